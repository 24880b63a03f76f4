//! Byte ranges of image data: one `bytes=` range, parsed, then resolved
//! against the object's size.

use super::ids::truncate;
use crate::error::AppError;

/// A requested byte range, before it is checked against the object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// `bytes=start-` or `bytes=start-end`.
    From(u64, Option<u64>),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parses a `Range` header value; `Ok(None)` for a multi-range request,
    /// which is answered whole, as HTTP allows.
    pub(crate) fn parse(text: &str) -> Result<Option<ByteRange>, AppError> {
        let text = text.trim();
        let bad = || {
            AppError::invalid(format!(
                "Invalid Range header '{}': expected bytes=<start>-<end>",
                truncate(text, 80)
            ))
        };
        let (unit, spec) = text.split_once('=').ok_or_else(bad)?;
        if !unit.trim().eq_ignore_ascii_case("bytes") {
            return Err(bad());
        }
        if spec.contains(',') {
            return Ok(None);
        }
        let (a, b) = spec.trim().split_once('-').ok_or_else(bad)?;
        let num = |s: &str| -> Result<u64, AppError> {
            if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let (a, b) = (a.trim(), b.trim());
        match (a.is_empty(), b.is_empty()) {
            (true, true) => Err(bad()),
            (true, false) => Ok(Some(ByteRange::Suffix(num(b)?))),
            (false, true) => Ok(Some(ByteRange::From(num(a)?, None))),
            (false, false) => {
                let (s, e) = (num(a)?, num(b)?);
                if e < s {
                    return Err(bad());
                }
                Ok(Some(ByteRange::From(s, Some(e))))
            }
        }
    }

    /// Resolves the range against a size: `(start, length)`, or a 416.
    pub(crate) fn resolve(self, size: u64) -> Result<(u64, u64), AppError> {
        let unsatisfiable = AppError::RangeOutside { size };
        match self {
            ByteRange::From(start, _) if start >= size => Err(unsatisfiable),
            ByteRange::From(start, end) => {
                let last = end.unwrap_or(size - 1).min(size - 1);
                Ok((start, last - start + 1))
            }
            ByteRange::Suffix(0) => Err(unsatisfiable),
            ByteRange::Suffix(_) if size == 0 => Err(unsatisfiable),
            ByteRange::Suffix(n) => {
                let n = n.min(size);
                Ok((size - n, n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        let p = |s: &str| ByteRange::parse(s);
        assert_eq!(p("bytes=0-9").unwrap(), Some(ByteRange::From(0, Some(9))));
        assert_eq!(p("bytes=5-").unwrap(), Some(ByteRange::From(5, None)));
        assert_eq!(p("bytes=-3").unwrap(), Some(ByteRange::Suffix(3)));
        assert_eq!(p("bytes=0-1,4-5").unwrap(), None);
        for bad in [
            "bytes=9-1",
            "bytes=-",
            "bytes=a-b",
            "items=0-1",
            "bytes 0-1",
            "bytes=0-99999999999999999999",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(ByteRange::From(0, Some(99)).resolve(10).unwrap(), (0, 10));
        assert_eq!(ByteRange::Suffix(3).resolve(10).unwrap(), (7, 3));
        assert_eq!(ByteRange::Suffix(30).resolve(10).unwrap(), (0, 10));
        assert!(ByteRange::From(10, None).resolve(10).is_err());
        assert!(ByteRange::From(0, None).resolve(0).is_err());
        assert!(ByteRange::Suffix(0).resolve(10).is_err());
    }
}
