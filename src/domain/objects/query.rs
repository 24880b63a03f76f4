//! The object-store endpoint's query strings: flags bare (`?update`) or
//! valued (`?hashmap=True`), in any order, each name and value decoded once.

use super::super::ids::truncate;
use super::super::percent::decode_query;
use crate::error::AppError;

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string; a malformed escape is a 400.
    pub(crate) fn parse(raw: &str) -> Result<Query, AppError> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let dec = |s: &str| {
                decode_query(s).map_err(|e| {
                    AppError::invalid(format!("Invalid query '{}': {e}", truncate(part, 80)))
                })
            };
            pairs.push((dec(k)?, dec(v)?));
        }
        Ok(Query { pairs })
    }

    /// The value of the first `name`, if given (a bare flag's is empty).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the flag `name` is set: present with any value but `false` or `0`.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0")
    }

    /// Whether `format=json` was asked.
    pub(crate) fn json(&self) -> bool {
        self.get("format")
            .is_some_and(|f| f.eq_ignore_ascii_case("json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_bare_or_valued_in_any_order() {
        let q = Query::parse("update&format=json").unwrap();
        assert!(q.flag("update") && q.json());
        let q = Query::parse("format=json&hashmap=True").unwrap();
        assert!(q.flag("hashmap"));
        assert!(!Query::parse("hashmap=false").unwrap().flag("hashmap"));
        assert!(!Query::parse("hashmap=0").unwrap().flag("hashmap"));
        assert!(!Query::parse("format=json").unwrap().flag("hashmap"));
        assert_eq!(
            Query::parse("prefix=a%20b+c").unwrap().get("prefix"),
            Some("a b c")
        );
        assert!(Query::parse("prefix=%zz").is_err());
    }
}
