//! How the AC validator reads a market result onto the grid model.

use std::collections::BTreeMap;

use platone_market::QuantityUnit;
use platone_market::validation::Light;
use serde::{Deserialize, Serialize};

/// How accepted **requests** change the injections (offers always do: an accepted offer `up`
/// is more generation or less load at its location, `down` the opposite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestInjection {
    /// As the DC line-loading check: a request is the counterpart of the offers that serve
    /// it, at its own location — an accepted request `up` is *less* injection there, `down`
    /// *more*. A request and an offer at the same bus then cancel out; a TSO request at the
    /// feeder head (the slack) changes nothing in the feeder.
    #[default]
    Counter,
    /// Requests are not physical: only offers change injections and the slack bus balances
    /// them.
    Ignore,
}

/// The AC validator's settings (all have defaults; a TOML or JSON section of the DSOTP's
/// configuration deserialises into this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcValidatorConfig {
    /// Market location (a bus name, a PoD id, as in the orders' `location`) → the MATPOWER
    /// bus number it is connected to.
    pub locations: BTreeMap<String, u64>,
    /// A location missing from [`AcValidatorConfig::locations`] that is the decimal number
    /// of a bus of the case (`"18"`) is that bus.
    pub bus_numbers_as_locations: bool,
    /// The light of an accepted order whose location is not on the grid model (it is then
    /// not checked, and not applied to the grid).
    pub unmapped: Light,
    /// MW per unit of the orders' quantities; `None`: from the book's unit (MW 1, kW 0.001,
    /// p.u. the book's DC network base, else the case's `baseMVA`).
    pub mw_per_unit: Option<f64>,
    /// Power factor of the flexibility: an active change ΔP comes with ΔQ = ΔP·tan(acos pf)
    /// of the same sign (a load reduced at its own power factor). `None`: ΔQ = 0.
    pub power_factor: Option<f64>,
    /// How requests count, see [`RequestInjection`].
    pub requests: RequestInjection,
    /// Band inside a voltage limit, p.u., where an order pushing the voltage towards the
    /// limit gets amber (0.01: within 0.01 p.u. of Vmax or Vmin).
    pub amber_voltage: f64,
    /// Loading, percent of `rateA`, from which an order pushing the flow gets amber.
    pub amber_loading: f64,
    /// Tolerance on voltages, p.u.: a limit is violated beyond it, and an order pushes a
    /// voltage when removing it moves the voltage by more than this.
    pub voltage_tolerance: f64,
    /// Tolerance on loadings, percentage points (as [`AcValidatorConfig::voltage_tolerance`]).
    pub loading_tolerance: f64,
    /// Newton–Raphson iterations allowed per power flow.
    pub max_iterations: usize,
    /// Largest power mismatch accepted, p.u.
    pub mismatch_tolerance: f64,
    /// Also run the DC line-loading check (`platone_market`'s `LineLoadingValidator`) when
    /// the book carries a DC network; the worst light wins and the reasons are joined.
    pub dc_line_loading: bool,
    /// The DC check's amber loading, a fraction of the branch limit.
    pub dc_amber_loading: f64,
}

impl Default for AcValidatorConfig {
    fn default() -> Self {
        AcValidatorConfig {
            locations: BTreeMap::new(),
            bus_numbers_as_locations: true,
            unmapped: Light::Amber,
            mw_per_unit: None,
            power_factor: None,
            requests: RequestInjection::Counter,
            amber_voltage: 0.01,
            amber_loading: 90.0,
            voltage_tolerance: 1e-5,
            loading_tolerance: 1e-3,
            max_iterations: 20,
            mismatch_tolerance: 1e-8,
            dc_line_loading: true,
            dc_amber_loading: 0.9,
        }
    }
}

impl AcValidatorConfig {
    /// Checks the numbers: tolerances and margins finite and ≥ 0, a power factor in (0, 1],
    /// a positive quantity scale, at least one iteration. The error names the field.
    pub fn check(&self) -> crate::Result<()> {
        let non_negative = [
            ("amber_voltage", self.amber_voltage),
            ("amber_loading", self.amber_loading),
            ("voltage_tolerance", self.voltage_tolerance),
            ("loading_tolerance", self.loading_tolerance),
            ("dc_amber_loading", self.dc_amber_loading),
        ];
        for (field, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(crate::DsotpError::invalid(
                    format!("validation.{field}"),
                    format!("must be a finite number ≥ 0, found {value}"),
                ));
            }
        }
        if !(self.mismatch_tolerance.is_finite() && self.mismatch_tolerance > 0.0) {
            return Err(crate::DsotpError::invalid(
                "validation.mismatch_tolerance",
                format!("must be > 0, found {}", self.mismatch_tolerance),
            ));
        }
        if let Some(pf) = self.power_factor
            && !(pf.is_finite() && pf > 0.0 && pf <= 1.0)
        {
            return Err(crate::DsotpError::invalid(
                "validation.power_factor",
                format!("must be in (0, 1], found {pf}"),
            ));
        }
        if let Some(scale) = self.mw_per_unit
            && !(scale.is_finite() && scale > 0.0)
        {
            return Err(crate::DsotpError::invalid(
                "validation.mw_per_unit",
                format!("must be > 0, found {scale}"),
            ));
        }
        if self.max_iterations == 0 {
            return Err(crate::DsotpError::invalid(
                "validation.max_iterations",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// MW per unit of quantity for a book in `unit`; `dc_base_mva` is the book's DC network
    /// base, `case_base_mva` the AC case's (used for p.u. in that order).
    pub fn scale(&self, unit: QuantityUnit, dc_base_mva: Option<f64>, case_base_mva: f64) -> f64 {
        if let Some(scale) = self.mw_per_unit {
            return scale;
        }
        match unit {
            QuantityUnit::Mw => 1.0,
            QuantityUnit::Kw => 1e-3,
            QuantityUnit::Pu => dc_base_mva.unwrap_or(case_base_mva),
        }
    }

    /// tan(acos pf): Mvar per MW of the flexibility (0 without a power factor).
    pub fn q_per_p(&self) -> f64 {
        match self.power_factor {
            Some(pf) if pf > 0.0 && pf < 1.0 => (1.0 - pf * pf).sqrt() / pf,
            _ => 0.0,
        }
    }
}
