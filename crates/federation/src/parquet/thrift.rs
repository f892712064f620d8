//! Thrift's compact protocol, read: the little of it that Parquet's footers and page headers
//! need (varints, zigzag integers, field headers, list headers, strings) and a bounded skip
//! over any value, for the lean footer parser (`super::footer`) and page reader
//! (`super::lean`).

/// Reads Thrift's compact protocol.
pub(super) struct Thrift<'a> {
    pub(super) buf: &'a [u8],
    pub(super) at: usize,
}

/// Thrift compact field types.
pub(super) const T_TRUE: u8 = 1;
pub(super) const T_FALSE: u8 = 2;
const T_BYTE: u8 = 3;
pub(super) const T_I16: u8 = 4;
pub(super) const T_I32: u8 = 5;
pub(super) const T_I64: u8 = 6;
const T_DOUBLE: u8 = 7;
pub(super) const T_BINARY: u8 = 8;
pub(super) const T_LIST: u8 = 9;
const T_SET: u8 = 10;
const T_MAP: u8 = 11;
pub(super) const T_STRUCT: u8 = 12;
/// Nesting a skipped value may have.
const MAX_DEPTH: u8 = 16;

impl Thrift<'_> {
    pub(super) fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    pub(super) fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    pub(super) fn i32(&mut self) -> Option<i32> {
        i32::try_from(self.zigzag()?).ok()
    }

    /// A non-negative `i32` field, as a size or count.
    pub(super) fn size(&mut self) -> Option<usize> {
        usize::try_from(self.i32()?).ok()
    }

    /// The next field's id and type; `Some(None)` at the struct's end.
    pub(super) fn field(&mut self, last: &mut i16) -> Option<Option<(i16, u8)>> {
        let b = self.byte()?;
        if b == 0 {
            return Some(None);
        }
        let (delta, kind) = (b >> 4, b & 0x0f);
        let id = match delta {
            0 => i16::try_from(self.zigzag()?).ok()?,
            d => last.checked_add(i16::from(d))?,
        };
        *last = id;
        Some(Some((id, kind)))
    }

    /// A list's header: its length, when its elements are of `kind`.
    pub(super) fn list_of(&mut self, kind: u8) -> Option<usize> {
        let b = self.byte()?;
        if b & 0x0f != kind {
            return None;
        }
        match b >> 4 {
            15 => usize::try_from(self.varint()?).ok(),
            n => Some(usize::from(n)),
        }
    }

    /// A binary field that holds UTF-8.
    pub(super) fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        let bytes = self.buf.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        String::from_utf8(bytes.to_vec()).ok()
    }

    /// Skips a value of `kind` (in a list, a bool is a byte of its own).
    pub(super) fn skip(&mut self, kind: u8, in_list: bool, depth: u8) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match kind {
            T_TRUE | T_FALSE if in_list => {
                self.byte()?;
            }
            T_TRUE | T_FALSE => {}
            T_BYTE => {
                self.byte()?;
            }
            T_I16 | T_I32 | T_I64 => {
                self.varint()?;
            }
            T_DOUBLE => self.at = self.at.checked_add(8).filter(|&e| e <= self.buf.len())?,
            T_BINARY => {
                let len = usize::try_from(self.varint()?).ok()?;
                self.at = self.at.checked_add(len).filter(|&e| e <= self.buf.len())?;
            }
            T_LIST | T_SET => {
                let b = self.byte()?;
                let n = match b >> 4 {
                    15 => usize::try_from(self.varint()?).ok()?,
                    n => usize::from(n),
                };
                for _ in 0..n {
                    self.skip(b & 0x0f, true, depth + 1)?;
                }
            }
            T_MAP => {
                let n = usize::try_from(self.varint()?).ok()?;
                if n > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..n {
                        self.skip(kinds >> 4, true, depth + 1)?;
                        self.skip(kinds & 0x0f, true, depth + 1)?;
                    }
                }
            }
            T_STRUCT => {
                let mut last = 0;
                while let Some((_, k)) = self.field(&mut last)? {
                    self.skip(k, false, depth + 1)?;
                }
            }
            _ => return None,
        }
        Some(())
    }
}
