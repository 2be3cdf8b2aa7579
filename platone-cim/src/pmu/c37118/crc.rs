//! CHK: CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final
//! XOR), which the `crc` crate calls `CRC_16_IBM_3740`.

use crc::{CRC_16_IBM_3740, Crc, Table};

/// The CRC engine: slicing-by-16 tables built at compile time.
const CHK: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_3740);

/// The C37.118.2 CHK of `bytes` (everything from SYNC up to the byte before CHK).
///
/// ```
/// use platone_cim::pmu::c37118::crc16;
/// assert_eq!(crc16(b"123456789"), 0x29B1);
/// ```
pub fn crc16(bytes: &[u8]) -> u16 {
    CHK.checksum(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_and_catalogue_vectors() {
        assert_eq!(crc16(b"ABCD"), 0xBFFA);
        assert_eq!(crc16(b"123456"), 0x2EF4);
        assert_eq!(crc16(b"abc"), 0x514A);
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }
}
