//! The primitive encodings of the payload: LEB128 varints, minimal big-endian integers and
//! bitmaps, with a bounds-checked reader that never panics on hostile input.

use alloy_primitives::U256;

use super::error::WireError;

/// Appends `value` as an unsigned LEB128 varint (7 bits a byte, least significant first).
pub(super) fn put_varint(out: &mut Vec<u8>, value: u128) {
    let mut value = value;
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `value` as a length byte (0..=32) and that many big-endian bytes, without leading
/// zeros (zero is the single byte `0x00`).
pub(super) fn put_u256(out: &mut Vec<u8>, value: U256) {
    let bytes = value.to_be_bytes::<32>();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push((32 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// A bitmap of `bits`, least significant bit first; padding bits are zero.
pub(super) fn put_bitmap(out: &mut Vec<u8>, bits: impl ExactSizeIterator<Item = bool>) {
    let mut byte = 0u8;
    let mut filled = 0;
    for bit in bits {
        byte |= u8::from(bit) << filled;
        filled += 1;
        if filled == 8 {
            out.push(byte);
            byte = 0;
            filled = 0;
        }
    }
    if filled > 0 {
        out.push(byte);
    }
}

/// A cursor over the payload. Every read checks bounds and returns a [`WireError`]; the
/// caller attaches the field name and location.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not read yet.
    pub(super) const fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let Some((head, tail)) = self.buf.split_at_checked(n) else {
            return Err(WireError::Truncated);
        };
        self.buf = tail;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let bytes = self.bytes(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    pub(super) fn u8(&mut self) -> Result<u8, WireError> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    /// A minimal LEB128 varint of at most 128 bits.
    pub(super) fn varint128(&mut self) -> Result<u128, WireError> {
        let mut value = 0u128;
        for shift in (0..128).step_by(7) {
            let byte = self.u8()?;
            let bits = u128::from(byte & 0x7f);
            if shift == 126 && bits > 0b11 {
                return Err(WireError::Overflow);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(WireError::NotMinimal);
                }
                return Ok(value);
            }
        }
        Err(WireError::Overflow)
    }

    /// A minimal LEB128 varint of at most 64 bits.
    pub(super) fn varint(&mut self) -> Result<u64, WireError> {
        u64::try_from(self.varint128()?).map_err(|_| WireError::Overflow)
    }

    /// A varint that must be at most `max`, as a `usize`.
    pub(super) fn varint_max(&mut self, max: usize) -> Result<usize, WireError> {
        match usize::try_from(self.varint()?) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(WireError::OutOfRange("exceeds the limit")),
        }
    }

    /// A length byte and a minimal big-endian integer of that many bytes.
    pub(super) fn u256(&mut self) -> Result<U256, WireError> {
        let len = usize::from(self.u8()?);
        if len > 32 {
            return Err(WireError::OutOfRange("integer longer than 32 bytes"));
        }
        let bytes = self.bytes(len)?;
        if bytes.first() == Some(&0) {
            return Err(WireError::NotMinimal);
        }
        Ok(U256::from_be_slice(bytes))
    }

    /// One RLP item (alloy-rlp rejects non-canonical encodings).
    pub(super) fn rlp<T: alloy::rlp::Decodable>(&mut self) -> Result<T, WireError> {
        let mut buf = self.buf;
        let value = T::decode(&mut buf).map_err(WireError::Rlp)?;
        self.buf = buf;
        Ok(value)
    }

    /// A bitmap of `bits` bits whose padding bits must be zero.
    pub(super) fn bitmap(&mut self, bits: usize) -> Result<Bitmap<'a>, WireError> {
        let bytes = self.bytes(bits.div_ceil(8))?;
        let padding = bits % 8;
        if padding != 0 && bytes.last().is_some_and(|last| last >> padding != 0) {
            return Err(WireError::OutOfRange("padding bits are set"));
        }
        Ok(Bitmap(bytes))
    }
}

/// A bitmap read from the payload.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bitmap<'a>(&'a [u8]);

impl Bitmap<'_> {
    /// Bit `i`; false past the end.
    pub(super) fn get(&self, i: usize) -> bool {
        self.0.get(i / 8).is_some_and(|byte| byte >> (i % 8) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_non_minimal() {
        for value in [0u128, 1, 127, 128, 300, u64::MAX.into(), u128::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.varint128(), Ok(value));
            assert_eq!(reader.remaining(), 0);
        }
        assert_eq!(Reader::new(&[0x80, 0x00]).varint128(), Err(WireError::NotMinimal));
        assert_eq!(Reader::new(&[0x80]).varint128(), Err(WireError::Truncated));
        let mut too_big = vec![0xff; 18];
        too_big.push(0x04);
        assert_eq!(Reader::new(&too_big).varint128(), Err(WireError::Overflow));
        let mut over_u64 = Vec::new();
        put_varint(&mut over_u64, u128::from(u64::MAX) + 1);
        assert_eq!(Reader::new(&over_u64).varint(), Err(WireError::Overflow));
    }

    #[test]
    fn u256_is_minimal_big_endian() {
        for value in [U256::ZERO, U256::from(1), U256::from(256), U256::MAX] {
            let mut out = Vec::new();
            put_u256(&mut out, value);
            assert_eq!(Reader::new(&out).u256(), Ok(value));
        }
        assert_eq!(Reader::new(&[1, 0]).u256(), Err(WireError::NotMinimal));
        assert!(Reader::new(&[33]).u256().is_err());
    }

    #[test]
    fn bitmaps_round_trip_and_reject_padding() {
        let bits = [true, false, true, true, false, false, false, false, true, true];
        let mut out = Vec::new();
        put_bitmap(&mut out, bits.iter().copied());
        assert_eq!(out.len(), 2);
        let map = Reader::new(&out).bitmap(bits.len()).expect("valid bitmap");
        assert!(bits.iter().enumerate().all(|(i, bit)| map.get(i) == *bit));
        assert!(Reader::new(&[0, 0b100]).bitmap(10).is_err());
    }
}
