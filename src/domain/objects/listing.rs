//! Listing a container or an account: `prefix`, `delimiter`, `path`,
//! `marker` and `limit` applied to names in order (docs/api.md §14).

use super::query::Query;
use crate::error::AppError;

/// The most entries one listing returns, and the default (as Pithos's).
pub(crate) const MAX_LIMIT: usize = 10_000;

/// What a listing asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NameQuery {
    /// Only names starting with this.
    pub(crate) prefix: String,
    /// Names holding it after the prefix are rolled up into one `subdir`.
    pub(crate) delimiter: Option<String>,
    /// Only names after this one.
    pub(crate) marker: Option<String>,
    /// At most this many entries.
    pub(crate) limit: usize,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry<T> {
    /// An object (or container) and what is known of it.
    Item(T),
    /// A virtual directory: the names up to and including the delimiter.
    Subdir(String),
}

impl NameQuery {
    /// Reads the listing parameters; a `path` stands for `prefix=<path>/`
    /// with `delimiter=/`, and a prefix given with a delimiter gets the
    /// delimiter appended.
    pub(crate) fn parse(q: &Query) -> Result<NameQuery, AppError> {
        let limit = match q.get("limit") {
            None | Some("") => MAX_LIMIT,
            Some(l) => l
                .parse::<usize>()
                .map_err(|_| {
                    AppError::invalid(format!(
                        "Invalid limit '{}': expected a count",
                        super::super::ids::truncate(l, 40)
                    ))
                })?
                .min(MAX_LIMIT),
        };
        let marker = q
            .get("marker")
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let (mut prefix, delimiter) = match q.get("path") {
            Some(p) => (p.to_string(), Some("/".to_string())),
            None => (
                q.get("prefix").unwrap_or_default().to_string(),
                q.get("delimiter")
                    .filter(|d| !d.is_empty())
                    .map(str::to_string),
            ),
        };
        if let Some(d) = &delimiter {
            if !prefix.is_empty() && !prefix.ends_with(d.as_str()) {
                prefix.push_str(d);
            }
        }
        Ok(NameQuery {
            prefix,
            delimiter,
            marker,
            limit,
        })
    }

    /// Applies the query to `(name, item)` pairs sorted by name.
    pub(crate) fn apply<T>(&self, sorted: impl IntoIterator<Item = (String, T)>) -> Vec<Entry<T>> {
        let mut out = Vec::new();
        let mut last_subdir: Option<String> = None;
        for (name, item) in sorted {
            if out.len() >= self.limit {
                break;
            }
            if !name.starts_with(&self.prefix) {
                continue;
            }
            if self
                .marker
                .as_ref()
                .is_some_and(|m| name.as_str() <= m.as_str())
            {
                continue;
            }
            let rolled = self.delimiter.as_ref().and_then(|d| {
                let rest = &name[self.prefix.len()..];
                rest.find(d.as_str())
                    .map(|at| name[..self.prefix.len() + at + d.len()].to_string())
            });
            match rolled {
                Some(sub) => {
                    if last_subdir.as_deref() != Some(sub.as_str()) {
                        last_subdir = Some(sub.clone());
                        out.push(Entry::Subdir(sub));
                    }
                }
                None => out.push(Entry::Item(item)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str, all: &[&str]) -> Vec<String> {
        let nq = NameQuery::parse(&Query::parse(q).unwrap()).unwrap();
        nq.apply(all.iter().map(|n| (n.to_string(), n.to_string())))
            .into_iter()
            .map(|e| match e {
                Entry::Item(n) => n,
                Entry::Subdir(s) => format!("subdir:{s}"),
            })
            .collect()
    }

    #[test]
    fn prefix_delimiter_path_marker_limit() {
        let all = ["a", "b/1", "b/2", "b/c/3", "c"];
        assert_eq!(names("", &all), all);
        assert_eq!(names("delimiter=/", &all), ["a", "subdir:b/", "c"]);
        assert_eq!(
            names("prefix=b&delimiter=/", &all),
            ["b/1", "b/2", "subdir:b/c/"]
        );
        assert_eq!(names("path=b", &all), ["b/1", "b/2", "subdir:b/c/"]);
        assert_eq!(names("prefix=b", &all), ["b/1", "b/2", "b/c/3"]);
        assert_eq!(names("marker=b/1&limit=2", &all), ["b/2", "b/c/3"]);
        assert!(NameQuery::parse(&Query::parse("limit=x").unwrap()).is_err());
    }
}
