//! The enumerated ReadingType fields 1–7, generated from the IEC 61968-9 code tables
//! (CIM17 enumeration literals, plus the extra entries of the Ed.2 lists used by metering
//! platforms, marked as extensions).
//!
//! Every enumeration keeps codes it does not know as `Other(code)`, so a decoded code always
//! prints back to the same number.

/// Declares a ReadingType field enumeration: one variant per known code with its CIM literal
/// name and a human description, plus `Other(u32)` for unknown codes.
macro_rules! code_enum {
    (
        $(#[$doc:meta])*
        pub enum $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $code:literal => $lit:literal, $desc:literal; )+
        }
    ) => {
        $(#[$doc])*
        ///
        /// `Display` prints the numeric code, as it appears in the dotted ReadingType string;
        /// [`Self::name`] gives the CIM literal and [`Self::description`] a human text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
            /// A code not in the tables, kept as written.
            Other(u32),
        }

        impl $name {
            /// The variant for a numeric code (`Other` when the code is not in the table).
            pub const fn from_code(code: u32) -> Self {
                match code {
                    $( $code => $name::$variant, )+
                    other => $name::Other(other),
                }
            }

            /// The numeric code.
            pub const fn code(self) -> u32 {
                match self {
                    $( $name::$variant => $code, )+
                    $name::Other(code) => code,
                }
            }

            /// The CIM literal (`"fifteenMinute"`), or `None` for an unknown code.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($lit), )+
                    $name::Other(_) => None,
                }
            }

            /// A human description (`"15-minutes"`), or `None` for an unknown code.
            pub const fn description(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($desc), )+
                    $name::Other(_) => None,
                }
            }

            /// The variant whose CIM literal is `name` (case-sensitive), if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $lit => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// Whether the code is the "not applicable" zero.
            pub const fn is_none(self) -> bool {
                self.code() == 0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.code())
            }
        }

        impl serde::Serialize for $name {
            /// The CIM literal, or the decimal code for an unknown code.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => s.serialize_str(name),
                    None => s.collect_str(&self.code()),
                }
            }
        }
    };
}

code_enum! {
    /// Field 1, `macroPeriod`: the period over which an aggregate is taken (IEC 61968-9 `MacroPeriodKind`).
    pub enum MacroPeriodKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Billing period.
        BillingPeriod = 8 => "billingPeriod", "billing period";
        /// Daily.
        Daily = 11 => "daily", "daily";
        /// Monthly.
        Monthly = 13 => "monthly", "monthly";
        /// Seasonal.
        Seasonal = 22 => "seasonal", "seasonal";
        /// Weekly.
        Weekly = 24 => "weekly", "weekly";
        /// Specified period.
        SpecifiedPeriod = 32 => "specifiedPeriod", "specified period";
        /// Yearly (vendor/later-edition extension).
        Yearly = 1001 => "yearly", "yearly";
    }
}

code_enum! {
    /// Field 2, `aggregate`: how values were combined over the macro period (IEC 61968-9 `AggregateKind`).
    pub enum AggregateKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Average.
        Average = 2 => "average", "average";
        /// Excess.
        Excess = 4 => "excess", "excess";
        /// High threshold.
        HighThreshold = 5 => "highThreshold", "high threshold";
        /// Low threshold.
        LowThreshold = 7 => "lowThreshold", "low threshold";
        /// Maximum.
        Maximum = 8 => "maximum", "maximum";
        /// Minimum.
        Minimum = 9 => "minimum", "minimum";
        /// Nominal.
        Nominal = 11 => "nominal", "nominal";
        /// Normal.
        Normal = 12 => "normal", "normal";
        /// Second maximum.
        SecondMaximum = 16 => "secondMaximum", "second maximum";
        /// Second minimum.
        SecondMinimum = 17 => "secondMinimum", "second minimum";
        /// Third maximum.
        ThirdMaximum = 23 => "thirdMaximum", "third maximum";
        /// Fourth maximum.
        FourthMaximum = 24 => "fourthMaximum", "fourth maximum";
        /// Fifth maximum.
        FifthMaximum = 25 => "fifthMaximum", "fifth maximum";
        /// Sum.
        Sum = 26 => "sum", "sum";
        /// High (vendor/later-edition extension).
        High = 27 => "high", "high";
        /// Low (vendor/later-edition extension).
        Low = 28 => "low", "low";
    }
}

code_enum! {
    /// Field 3, `measuringPeriod`: the interval of the underlying measurement (IEC 61968-9 `MeasuringPeriodKind`).
    pub enum MeasuringPeriodKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// 10-minutes.
        TenMinute = 1 => "tenMinute", "10-minutes";
        /// 15-minutes.
        FifteenMinute = 2 => "fifteenMinute", "15-minutes";
        /// 1-minute.
        OneMinute = 3 => "oneMinute", "1-minute";
        /// 24-hours.
        TwentyfourHour = 4 => "twentyfourHour", "24-hours";
        /// 30-minutes.
        ThirtyMinute = 5 => "thirtyMinute", "30-minutes";
        /// 5-minutes.
        FiveMinute = 6 => "fiveMinute", "5-minutes";
        /// 60-minutes.
        SixtyMinute = 7 => "sixtyMinute", "60-minutes";
        /// 2-minutes.
        TwoMinute = 10 => "twoMinute", "2-minutes";
        /// 3-minutes.
        ThreeMinute = 14 => "threeMinute", "3-minutes";
        /// Present.
        Present = 15 => "present", "present";
        /// Previous.
        Previous = 16 => "previous", "previous";
        /// 20-minutes.
        TwentyMinute = 31 => "twentyMinute", "20-minutes";
        /// 60-Minutes Fixed Block.
        FixedBlock60Min = 50 => "fixedBlock60Min", "60-Minutes Fixed Block";
        /// 30-Minutes Fixed Block.
        FixedBlock30Min = 51 => "fixedBlock30Min", "30-Minutes Fixed Block";
        /// 20-Minutes Fixed Block.
        FixedBlock20Min = 52 => "fixedBlock20Min", "20-Minutes Fixed Block";
        /// 15-Minutes Fixed Block.
        FixedBlock15Min = 53 => "fixedBlock15Min", "15-Minutes Fixed Block";
        /// 10-Minutes Fixed Block.
        FixedBlock10Min = 54 => "fixedBlock10Min", "10-Minutes Fixed Block";
        /// 5-Minutes Fixed Block.
        FixedBlock5Min = 55 => "fixedBlock5Min", "5-Minutes Fixed Block";
        /// 1-Minute Fixed Block.
        FixedBlock1Min = 56 => "fixedBlock1Min", "1-Minute Fixed Block";
        /// Rolling Block 60-Minutes with 30-Minutes Sub-intervals.
        RollingBlock60MinIntvl30MinSubIntvl = 57 => "rollingBlock60MinIntvl30MinSubIntvl", "rolling Block 60-Minutes with 30-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 20-Minutes Sub-intervals.
        RollingBlock60MinIntvl20MinSubIntvl = 58 => "rollingBlock60MinIntvl20MinSubIntvl", "rolling Block 60-Minutes with 20-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 15-Minutes Sub-intervals.
        RollingBlock60MinIntvl15MinSubIntvl = 59 => "rollingBlock60MinIntvl15MinSubIntvl", "rolling Block 60-Minutes with 15-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 12-Minutes Sub-intervals.
        RollingBlock60MinIntvl12MinSubIntvl = 60 => "rollingBlock60MinIntvl12MinSubIntvl", "rolling Block 60-Minutes with 12-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 10-Minutes Sub-intervals.
        RollingBlock60MinIntvl10MinSubIntvl = 61 => "rollingBlock60MinIntvl10MinSubIntvl", "rolling Block 60-Minutes with 10-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 6-Minutes Sub-intervals.
        RollingBlock60MinIntvl6MinSubIntvl = 62 => "rollingBlock60MinIntvl6MinSubIntvl", "rolling Block 60-Minutes with 6-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 5-Minutes Sub-intervals.
        RollingBlock60MinIntvl5MinSubIntvl = 63 => "rollingBlock60MinIntvl5MinSubIntvl", "rolling Block 60-Minutes with 5-Minutes Sub-intervals";
        /// Rolling Block 60-Minutes with 4-Minutes Sub-intervals.
        RollingBlock60MinIntvl4MinSubIntvl = 64 => "rollingBlock60MinIntvl4MinSubIntvl", "rolling Block 60-Minutes with 4-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 15-Minutes Sub-intervals.
        RollingBlock30MinIntvl15MinSubIntvl = 65 => "rollingBlock30MinIntvl15MinSubIntvl", "rolling Block 30-Minutes with 15-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 10-Minutes Sub-intervals.
        RollingBlock30MinIntvl10MinSubIntvl = 66 => "rollingBlock30MinIntvl10MinSubIntvl", "rolling Block 30-Minutes with 10-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 6-Minutes Sub-intervals.
        RollingBlock30MinIntvl6MinSubIntvl = 67 => "rollingBlock30MinIntvl6MinSubIntvl", "rolling Block 30-Minutes with 6-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 5-Minutes Sub-intervals.
        RollingBlock30MinIntvl5MinSubIntvl = 68 => "rollingBlock30MinIntvl5MinSubIntvl", "rolling Block 30-Minutes with 5-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 3-Minutes Sub-intervals.
        RollingBlock30MinIntvl3MinSubIntvl = 69 => "rollingBlock30MinIntvl3MinSubIntvl", "rolling Block 30-Minutes with 3-Minutes Sub-intervals";
        /// Rolling Block 30-Minutes with 2-Minutes Sub-intervals.
        RollingBlock30MinIntvl2MinSubIntvl = 70 => "rollingBlock30MinIntvl2MinSubIntvl", "rolling Block 30-Minutes with 2-Minutes Sub-intervals";
        /// Rolling Block 15-Minutes with 5-Minutes Sub-intervals.
        RollingBlock15MinIntvl5MinSubIntvl = 71 => "rollingBlock15MinIntvl5MinSubIntvl", "rolling Block 15-Minutes with 5-Minutes Sub-intervals";
        /// Rolling Block 15-Minutes with 3-Minutes Sub-intervals.
        RollingBlock15MinIntvl3MinSubIntvl = 72 => "rollingBlock15MinIntvl3MinSubIntvl", "rolling Block 15-Minutes with 3-Minutes Sub-intervals";
        /// Rolling Block 15-Minutes with 1-Minute Sub-intervals.
        RollingBlock15MinIntvl1MinSubIntvl = 73 => "rollingBlock15MinIntvl1MinSubIntvl", "rolling Block 15-Minutes with 1-Minute Sub-intervals";
        /// Rolling Block 10-Minutes with 5-Minutes Sub-intervals.
        RollingBlock10MinIntvl5MinSubIntvl = 74 => "rollingBlock10MinIntvl5MinSubIntvl", "rolling Block 10-Minutes with 5-Minutes Sub-intervals";
        /// Rolling Block 10-Minutes with 2-Minutes Sub-intervals.
        RollingBlock10MinIntvl2MinSubIntvl = 75 => "rollingBlock10MinIntvl2MinSubIntvl", "rolling Block 10-Minutes with 2-Minutes Sub-intervals";
        /// Rolling Block 10-Minutes with 2-Minutes Sub-intervals.
        RollingBlock10MinIntvl1MinSubIntvl = 76 => "rollingBlock10MinIntvl1MinSubIntvl", "rolling Block 10-Minutes with 2-Minutes Sub-intervals";
        /// Rolling Block 5-Minutes with 1-Minute Sub-intervals.
        RollingBlock5MinIntvl1MinSubIntvl = 77 => "rollingBlock5MinIntvl1MinSubIntvl", "rolling Block 5-Minutes with 1-Minute Sub-intervals";
        /// 12-minutes (vendor/later-edition extension).
        P12Minutes = 78 => "p12Minutes", "12-minutes";
        /// 2-hours (vendor/later-edition extension).
        P2Hours = 79 => "p2Hours", "2-hours";
        /// 4-hours (vendor/later-edition extension).
        P4Hours = 80 => "p4Hours", "4-hours";
        /// 6-hours (vendor/later-edition extension).
        P6Hours = 81 => "p6Hours", "6-hours";
        /// 12-hours (vendor/later-edition extension).
        P12Hours = 82 => "p12Hours", "12-hours";
        /// 3-hours (vendor/later-edition extension).
        P3Hours = 83 => "p3Hours", "3-hours";
        /// Specified interval (vendor/later-edition extension).
        SpecifiedInterval = 100 => "specifiedInterval", "specified interval";
        /// Specified fixed block (vendor/later-edition extension).
        SpecifiedFixedBlock = 101 => "specifiedFixedBlock", "specified fixed block";
        /// Specified rolling block (vendor/later-edition extension).
        SpecifiedRollingBlock = 102 => "specifiedRollingBlock", "specified rolling block";
    }
}

code_enum! {
    /// Field 4, `accumulation`: how the value accumulates (IEC 61968-9 `AccumulationKind`).
    pub enum AccumulationKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Bulk quantity.
        BulkQuantity = 1 => "bulkQuantity", "bulk quantity";
        /// Continuous cumulative.
        ContinuousCumulative = 2 => "continuousCumulative", "continuous cumulative";
        /// Cumulative.
        Cumulative = 3 => "cumulative", "cumulative";
        /// Delta data.
        DeltaData = 4 => "deltaData", "delta data";
        /// Indicating.
        Indicating = 6 => "indicating", "indicating";
        /// Summation.
        Summation = 9 => "summation", "summation";
        /// Time delay.
        TimeDelay = 10 => "timeDelay", "time delay";
        /// Instantaneous.
        Instantaneous = 12 => "instantaneous", "instantaneous";
        /// Latching quantity.
        LatchingQuantity = 13 => "latchingQuantity", "latching quantity";
        /// Bounded quantity.
        BoundedQuantity = 14 => "boundedQuantity", "bounded quantity";
    }
}

code_enum! {
    /// Field 5, `flowDirection`: the direction of energy flow (IEC 61968-9 `FlowDirectionKind`).
    pub enum FlowDirectionKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Forward.
        Forward = 1 => "forward", "forward";
        /// Lagging.
        Lagging = 2 => "lagging", "lagging";
        /// Leading.
        Leading = 3 => "leading", "leading";
        /// Net.
        Net = 4 => "net", "net";
        /// Q1+Q2.
        Q1plusQ2 = 5 => "q1plusQ2", "Q1+Q2";
        /// Q1+Q3.
        Q1plusQ3 = 7 => "q1plusQ3", "Q1+Q3";
        /// Q1+Q4.
        Q1plusQ4 = 8 => "q1plusQ4", "Q1+Q4";
        /// Q1-Q4.
        Q1minusQ4 = 9 => "q1minusQ4", "Q1-Q4";
        /// Q2+Q3.
        Q2plusQ3 = 10 => "q2plusQ3", "Q2+Q3";
        /// Q2+Q4.
        Q2plusQ4 = 11 => "q2plusQ4", "Q2+Q4";
        /// Q2-Q3.
        Q2minusQ3 = 12 => "q2minusQ3", "Q2-Q3";
        /// Q3+Q4.
        Q3plusQ4 = 13 => "q3plusQ4", "Q3+Q4";
        /// Q3-Q2.
        Q3minusQ2 = 14 => "q3minusQ2", "Q3-Q2";
        /// Q1.
        Quadrant1 = 15 => "quadrant1", "Q1";
        /// Q2.
        Quadrant2 = 16 => "quadrant2", "Q2";
        /// Q3.
        Quadrant3 = 17 => "quadrant3", "Q3";
        /// Q4.
        Quadrant4 = 18 => "quadrant4", "Q4";
        /// Reverse.
        Reverse = 19 => "reverse", "reverse";
        /// Total.
        Total = 20 => "total", "total";
        /// Total by phase.
        TotalByPhase = 21 => "totalByPhase", "total by phase";
    }
}

code_enum! {
    /// Field 6, `commodity`: what is measured (IEC 61968-9 `CommodityKind`).
    pub enum CommodityKind {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Electricity secondary metered.
        ElectricitySecondaryMetered = 1 => "electricitySecondaryMetered", "electricity secondary metered";
        /// Electricity primary metered.
        ElectricityPrimaryMetered = 2 => "electricityPrimaryMetered", "electricity primary metered";
        /// Communication.
        Communication = 3 => "communication", "communication";
        /// Air.
        Air = 4 => "air", "air";
        /// Insulative gas.
        InsulativeGas = 5 => "insulativeGas", "insulative gas";
        /// Insulative oil.
        InsulativeOil = 6 => "insulativeOil", "insulative oil";
        /// Natural gas.
        NaturalGas = 7 => "naturalGas", "natural gas";
        /// Propane.
        Propane = 8 => "propane", "propane";
        /// Potable water.
        PotableWater = 9 => "potableWater", "potable water";
        /// Steam.
        Steam = 10 => "steam", "steam";
        /// Waste water.
        WasteWater = 11 => "wasteWater", "waste water";
        /// Heating fluid.
        HeatingFluid = 12 => "heatingFluid", "heating fluid";
        /// Cooling fluid.
        CoolingFluid = 13 => "coolingFluid", "cooling fluid";
        /// Non-potable water.
        NonpotableWater = 14 => "nonpotableWater", "non-potable water";
        /// NOx.
        Nox = 15 => "nox", "NOx";
        /// SO2.
        So2 = 16 => "so2", "SO2";
        /// CH4.
        Ch4 = 17 => "ch4", "CH4";
        /// CO2.
        Co2 = 18 => "co2", "CO2";
        /// Carbon.
        Carbon = 19 => "carbon", "carbon";
        /// HCH.
        Hch = 20 => "hch", "HCH";
        /// PFC.
        Pfc = 21 => "pfc", "PFC";
        /// SF6.
        Sf6 = 22 => "sf6", "SF6";
        /// TV license.
        TvLicence = 23 => "tvLicence", "TV license";
        /// Internet.
        Internet = 24 => "internet", "internet";
        /// Trash.
        Refuse = 25 => "refuse", "trash";
        /// Hydrogen (vendor/later-edition extension).
        Hydrogen = 26 => "hydrogen", "hydrogen";
        /// Acetylene (vendor/later-edition extension).
        Acetylene = 27 => "acetylene", "acetylene";
        /// Ethylene (vendor/later-edition extension).
        Ethylene = 28 => "ethylene", "ethylene";
        /// Ethane (vendor/later-edition extension).
        Ethane = 29 => "ethane", "ethane";
        /// Carbon monoxide (vendor/later-edition extension).
        CarbonMonoxide = 30 => "carbonMonoxide", "carbon monoxide";
        /// Oxygen (vendor/later-edition extension).
        Oxygen = 31 => "oxygen", "oxygen";
        /// Dissolved combustible gas (vendor/later-edition extension).
        DissolvedCombustibleGas = 32 => "dissolvedCombustibleGas", "dissolved combustible gas";
        /// Carbon dioxide equivalent (vendor/later-edition extension).
        CarbonDioxideEquivalent = 33 => "carbonDioxideEquivalent", "carbon dioxide equivalent";
        /// Lead (vendor/later-edition extension).
        Lead = 34 => "lead", "lead";
        /// Mercury (vendor/later-edition extension).
        Mercury = 35 => "mercury", "mercury";
        /// Ozone (vendor/later-edition extension).
        Ozone = 36 => "ozone", "ozone";
        /// Particulate matter maximum size 10 µm (vendor/later-edition extension).
        ParticulateMatterMaximumSize10Microm = 37 => "particulateMatterMaximumSize10Microm", "particulate matter maximum size 10 µm";
        /// Particulate matter maximum size 2.5 µm (vendor/later-edition extension).
        ParticulateMatterMaximumSize25Microm = 38 => "particulateMatterMaximumSize25Microm", "particulate matter maximum size 2.5 µm";
        /// Sulfur oxides (vendor/later-edition extension).
        SulfurOxides = 39 => "sulfurOxides", "sulfur oxides";
        /// Weather or meterological conditions (vendor/later-edition extension).
        WeatherOrMeterologicalConditions = 40 => "weatherOrMeterologicalConditions", "weather or meterological conditions";
        /// Device (vendor/later-edition extension).
        Device = 41 => "device", "device";
    }
}

pub(crate) use code_enum;
