//! Field 7 of the ReadingType code, `measurementKind`, generated from the IEC 61968-9 tables.

use super::kinds::code_enum;

code_enum! {
    /// Field 7, `measurementKind`: the physical quantity (IEC 61968-9 `MeasurementKind`).
    pub enum MeasurementKindCode {
        /// Not applicable.
        None = 0 => "none", "not applicable";
        /// Apparent power factor.
        ApparentPowerFactor = 2 => "apparentPowerFactor", "apparent power factor";
        /// Currency.
        Currency = 3 => "currency", "currency";
        /// Current.
        Current = 4 => "current", "current";
        /// Current angle.
        CurrentAngle = 5 => "currentAngle", "current angle";
        /// Current imbalance.
        CurrentImbalance = 6 => "currentImbalance", "current imbalance";
        /// Date.
        Date = 7 => "date", "date";
        /// Demand.
        Demand = 8 => "demand", "demand";
        /// Distance.
        Distance = 9 => "distance", "distance";
        /// Distortion volt ampere.
        DistortionVoltAmp = 10 => "distortionVoltAmp", "distortion volt ampere";
        /// Energization.
        Energization = 11 => "energization", "energization";
        /// Energy.
        Energy = 12 => "energy", "energy";
        /// Energization load side.
        EnergizationLoadSide = 13 => "energizationLoadSide", "energization load side";
        /// Fan.
        Fan = 14 => "fan", "fan";
        /// Frequency.
        Frequency = 15 => "frequency", "frequency";
        /// Funds.
        Fund = 16 => "fund", "funds";
        /// IEEE 1366 ASAI.
        Ieee1366ASAI = 17 => "ieee1366ASAI", "IEEE 1366 ASAI";
        /// IEEE 1366 SIDI.
        Ieee1366ASIDI = 18 => "ieee1366ASIDI", "IEEE 1366 SIDI";
        /// IEEE 1366 ASIFI.
        Ieee1366ASIFI = 19 => "ieee1366ASIFI", "IEEE 1366 ASIFI";
        /// IEEE 1366 CAIDI.
        Ieee1366CAIDI = 20 => "ieee1366CAIDI", "IEEE 1366 CAIDI";
        /// IEEE 1366 CAIFI.
        Ieee1366CAIFI = 21 => "ieee1366CAIFI", "IEEE 1366 CAIFI";
        /// IEEE 1366 CEMIn.
        Ieee1366CEMIn = 22 => "ieee1366CEMIn", "IEEE 1366 CEMIn";
        /// IEEE 1366 CEMSMIn.
        Ieee1366CEMSMIn = 23 => "ieee1366CEMSMIn", "IEEE 1366 CEMSMIn";
        /// IEEE 1366 CTAIDI.
        Ieee1366CTAIDI = 24 => "ieee1366CTAIDI", "IEEE 1366 CTAIDI";
        /// IEEE 1366 MAIFI.
        Ieee1366MAIFI = 25 => "ieee1366MAIFI", "IEEE 1366 MAIFI";
        /// IEEE 1366 MAIFIE.
        Ieee1366MAIFIe = 26 => "ieee1366MAIFIe", "IEEE 1366 MAIFIE";
        /// IEEE 1366 SAIDI.
        Ieee1366SAIDI = 27 => "ieee1366SAIDI", "IEEE 1366 SAIDI";
        /// IEEE 1366 SAIFI.
        Ieee1366SAIFI = 28 => "ieee1366SAIFI", "IEEE 1366 SAIFI";
        /// Line losses.
        LineLoss = 31 => "lineLoss", "line losses";
        /// Losses.
        Loss = 32 => "loss", "losses";
        /// Negative sequence.
        NegativeSequence = 33 => "negativeSequence", "negative sequence";
        /// Phasor power factor.
        PhasorPowerFactor = 34 => "phasorPowerFactor", "phasor power factor";
        /// Phasor reactive power.
        PhasorReactivePower = 35 => "phasorReactivePower", "phasor reactive power";
        /// Positive sequence.
        PositiveSequence = 36 => "positiveSequence", "positive sequence";
        /// Power.
        Power = 37 => "power", "power";
        /// Power factor.
        PowerFactor = 38 => "powerFactor", "power factor";
        /// Quantity power.
        QuantityPower = 40 => "quantityPower", "quantity power";
        /// Sag.
        Sag = 41 => "sag", "sag";
        /// Swell.
        Swell = 42 => "swell", "swell";
        /// Switch position.
        SwitchPosition = 43 => "switchPosition", "switch position";
        /// Tap position.
        TapPosition = 44 => "tapPosition", "tap position";
        /// Tariff rate.
        TariffRate = 45 => "tariffRate", "tariff rate";
        /// Temperature.
        Temperature = 46 => "temperature", "temperature";
        /// Total harmonic distortion.
        TotalHarmonicDistortion = 47 => "totalHarmonicDistortion", "total harmonic distortion";
        /// Transformer losses.
        TransformerLoss = 48 => "transformerLoss", "transformer losses";
        /// UNIPEDE voltage dip 10-15.
        UnipedeVoltageDip10to15 = 49 => "unipedeVoltageDip10to15", "UNIPEDE voltage dip 10-15";
        /// UNIPEDE voltage dip 15-30.
        UnipedeVoltageDip15to30 = 50 => "unipedeVoltageDip15to30", "UNIPEDE voltage dip 15-30";
        /// UNIPEDE voltage dip 30-60.
        UnipedeVoltageDip30to60 = 51 => "unipedeVoltageDip30to60", "UNIPEDE voltage dip 30-60";
        /// UNIPEDE voltage dip 60-90.
        UnipedeVoltageDip60to90 = 52 => "unipedeVoltageDip60to90", "UNIPEDE voltage dip 60-90";
        /// UNIPEDE voltage dip 90-100.
        UnipedeVoltageDip90to100 = 53 => "unipedeVoltageDip90to100", "UNIPEDE voltage dip 90-100";
        /// Voltage (rms).
        Voltage = 54 => "voltage", "voltage (rms)";
        /// Voltage angle.
        VoltageAngle = 55 => "voltageAngle", "voltage angle";
        /// Voltage excursion.
        VoltageExcursion = 56 => "voltageExcursion", "voltage excursion";
        /// Voltage imbalance.
        VoltageImbalance = 57 => "voltageImbalance", "voltage imbalance";
        /// Volume.
        Volume = 58 => "volume", "volume";
        /// Zero flow duration.
        ZeroFlowDuration = 59 => "zeroFlowDuration", "zero flow duration";
        /// Zero sequence.
        ZeroSequence = 60 => "zeroSequence", "zero sequence";
        /// Distortion power factor.
        DistortionPowerFactor = 64 => "distortionPowerFactor", "distortion power factor";
        /// Frequency excursion.
        FrequencyExcursion = 81 => "frequencyExcursion", "frequency excursion";
        /// Application context.
        ApplicationContext = 90 => "applicationContext", "application context";
        /// Application title.
        ApTitle = 91 => "apTitle", "application title";
        /// Asset number.
        AssetNumber = 92 => "assetNumber", "asset number";
        /// Bandwidth.
        Bandwidth = 93 => "bandwidth", "bandwidth";
        /// Battery voltage.
        BatteryVoltage = 94 => "batteryVoltage", "battery voltage";
        /// Broadcast address.
        BroadcastAddress = 95 => "broadcastAddress", "broadcast address";
        /// Device address type 1.
        DeviceAddressType1 = 96 => "deviceAddressType1", "device address type 1";
        /// Device address type 2.
        DeviceAddressType2 = 97 => "deviceAddressType2", "device address type 2";
        /// Device address type 3.
        DeviceAddressType3 = 98 => "deviceAddressType3", "device address type 3";
        /// Device address type 4.
        DeviceAddressType4 = 99 => "deviceAddressType4", "device address type 4";
        /// Device class.
        DeviceClass = 100 => "deviceClass", "device class";
        /// Electronic serial number.
        ElectronicSerialNumber = 101 => "electronicSerialNumber", "electronic serial number";
        /// End device ID.
        EndDeviceID = 102 => "endDeviceID", "end device ID";
        /// Group address type 1.
        GroupAddressType1 = 103 => "groupAddressType1", "group address type 1";
        /// Group address type 2.
        GroupAddressType2 = 104 => "groupAddressType2", "group address type 2";
        /// Group address type 3.
        GroupAddressType3 = 105 => "groupAddressType3", "group address type 3";
        /// Group address type 4.
        GroupAddressType4 = 106 => "groupAddressType4", "group address type 4";
        /// IP address.
        IpAddress = 107 => "ipAddress", "IP address";
        /// MAC address.
        MacAddress = 108 => "macAddress", "MAC address";
        /// Manufacturing assigned configuration ID.
        MfgAssignedConfigurationID = 109 => "mfgAssignedConfigurationID", "manufacturing assigned configuration ID";
        /// Manufacturing assigned physical serial number.
        MfgAssignedPhysicalSerialNumber = 110 => "mfgAssignedPhysicalSerialNumber", "manufacturing assigned physical serial number";
        /// Manufacturing assigned product number.
        MfgAssignedProductNumber = 111 => "mfgAssignedProductNumber", "manufacturing assigned product number";
        /// Manufacturing assigned communication address.
        MfgAssignedUniqueCommunicationAddress = 112 => "mfgAssignedUniqueCommunicationAddress", "manufacturing assigned communication address";
        /// Multicast address.
        MultiCastAddress = 113 => "multiCastAddress", "multicast address";
        /// One-way address.
        OneWayAddress = 114 => "oneWayAddress", "one-way address";
        /// Signal strength.
        SignalStrength = 115 => "signalStrength", "signal strength";
        /// Two-way address.
        TwoWayAddress = 116 => "twoWayAddress", "two-way address";
        /// Signal noise ratio.
        SignaltoNoiseRatio = 117 => "signaltoNoiseRatio", "signal noise ratio";
        /// Alarm.
        Alarm = 118 => "alarm", "alarm";
        /// Battery carry-over.
        BatteryCarryover = 119 => "batteryCarryover", "battery carry-over";
        /// Data overflow alarm.
        DataOverflowAlarm = 120 => "dataOverflowAlarm", "data overflow alarm";
        /// Demand limit.
        DemandLimit = 121 => "demandLimit", "demand limit";
        /// Demand reset.
        DemandReset = 122 => "demandReset", "demand reset";
        /// Diagnostic.
        Diagnostic = 123 => "diagnostic", "diagnostic";
        /// Emergency limit.
        EmergencyLimit = 124 => "emergencyLimit", "emergency limit";
        /// Encoder tamper.
        EncoderTamper = 125 => "encoderTamper", "encoder tamper";
        /// IEEE 1366 momentary interruption.
        Ieee1366MomentaryInterruption = 126 => "ieee1366MomentaryInterruption", "IEEE 1366 momentary interruption";
        /// IEEE 1366 momentary interruption event.
        Ieee1366MomentaryInterruptionEvent = 127 => "ieee1366MomentaryInterruptionEvent", "IEEE 1366 momentary interruption event";
        /// IEEE 1366 sustained interruption.
        Ieee1366SustainedInterruption = 128 => "ieee1366SustainedInterruption", "IEEE 1366 sustained interruption";
        /// Interruption behaviour.
        InterruptionBehaviour = 129 => "interruptionBehaviour", "interruption behaviour";
        /// Inversion tamper.
        InversionTamper = 130 => "inversionTamper", "inversion tamper";
        /// Load interrupt.
        LoadInterrupt = 131 => "loadInterrupt", "load interrupt";
        /// Load shed.
        LoadShed = 132 => "loadShed", "load shed";
        /// Maintenance.
        Maintenance = 133 => "maintenance", "maintenance";
        /// Physical tamper.
        PhysicalTamper = 134 => "physicalTamper", "physical tamper";
        /// Power loss tamper.
        PowerLossTamper = 135 => "powerLossTamper", "power loss tamper";
        /// Power outage.
        PowerOutage = 136 => "powerOutage", "power outage";
        /// Power quality.
        PowerQuality = 137 => "powerQuality", "power quality";
        /// Power restoration.
        PowerRestoration = 138 => "powerRestoration", "power restoration";
        /// Programmed.
        Programmed = 139 => "programmed", "programmed";
        /// Pushbutton.
        Pushbutton = 140 => "pushbutton", "pushbutton";
        /// Relay activation.
        RelayActivation = 141 => "relayActivation", "relay activation";
        /// Relay cycle.
        RelayCycle = 142 => "relayCycle", "relay cycle";
        /// Removal tamper.
        RemovalTamper = 143 => "removalTamper", "removal tamper";
        /// Reprogramming tamper.
        ReprogrammingTamper = 144 => "reprogrammingTamper", "reprogramming tamper";
        /// Reverse rotation tamper.
        ReverseRotationTamper = 145 => "reverseRotationTamper", "reverse rotation tamper";
        /// Switch armed.
        SwitchArmed = 146 => "switchArmed", "switch armed";
        /// Switch disabled.
        SwitchDisabled = 147 => "switchDisabled", "switch disabled";
        /// Tamper.
        Tamper = 148 => "tamper", "tamper";
        /// Watchdog timeout.
        WatchdogTimeout = 149 => "watchdogTimeout", "watchdog timeout";
        /// Bill last period.
        BillLastPeriod = 150 => "billLastPeriod", "bill last period";
        /// Bill to date.
        BillToDate = 151 => "billToDate", "bill to date";
        /// Bill carry-over.
        BillCarryover = 152 => "billCarryover", "bill carry-over";
        /// Connection fee.
        ConnectionFee = 153 => "connectionFee", "connection fee";
        /// Audible volume.
        AudibleVolume = 154 => "audibleVolume", "audible volume";
        /// Volumetric flow.
        VolumetricFlow = 155 => "volumetricFlow", "volumetric flow";
        /// Relative humidity (vendor/later-edition extension).
        RelativeHumidity = 156 => "relativeHumidity", "relative humidity";
        /// Sky cover (vendor/later-edition extension).
        SkyCover = 157 => "skyCover", "sky cover";
        /// Voltage (vendor/later-edition extension).
        Voltage158 = 158 => "voltage158", "voltage";
        /// DC voltage (vendor/later-edition extension).
        DcVoltage = 159 => "dcVoltage", "DC voltage";
        /// AC voltage peak (vendor/later-edition extension).
        AcVoltagePeak = 160 => "acVoltagePeak", "AC voltage peak";
        /// AC voltage peak to peak (vendor/later-edition extension).
        AcVoltagePeakToPeak = 161 => "acVoltagePeakToPeak", "AC voltage peak to peak";
        /// CT ratio (vendor/later-edition extension).
        CtRatio = 1001 => "ctRatio", "CT ratio";
        /// Multiplier (vendor/later-edition extension).
        Multiplier = 1002 => "multiplier", "multiplier";
        /// Security state (vendor/later-edition extension).
        SecurityState = 1003 => "securityState", "security state";
        /// BlackList table (vendor/later-edition extension).
        BlacklistTable = 1005 => "blacklistTable", "blackList table";
    }
}
