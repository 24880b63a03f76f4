//! Inspecting data as it streams: the head is kept up to what the
//! inspector asks for (`MIN_HEAD` at least, `BOUND` at most), the last
//! `TAIL` bytes in a small window, and nothing is read twice.

use super::{inspect, Captured, Finding, Format, Inspection, Need, BOUND, MIN_HEAD, TAIL};

/// Watches a stream of data go by and inspects it at its end.
#[derive(Debug)]
pub(crate) struct Sniffer {
    head: Vec<u8>,
    /// How much head the inspector wants so far.
    wanted: usize,
    /// The last bytes seen (at most `2 * TAIL`, trimmed to `TAIL` at the end).
    window: Vec<u8>,
    total: u64,
}

impl Default for Sniffer {
    fn default() -> Self {
        Self::new()
    }
}

impl Sniffer {
    /// A sniffer that has seen nothing.
    pub(crate) fn new() -> Self {
        Sniffer {
            head: Vec::new(),
            wanted: MIN_HEAD,
            window: Vec::with_capacity(2 * TAIL),
            total: 0,
        }
    }

    /// The next bytes of the data.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let keep = data.len().min(TAIL);
        if self.window.len() + keep > 2 * TAIL {
            let drop = self.window.len() + keep - TAIL;
            self.window.drain(..drop.min(self.window.len()));
        }
        self.window.extend_from_slice(&data[data.len() - keep..]);
        while self.head.len() < self.wanted && !data.is_empty() {
            let n = (self.wanted - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.head.len() == self.wanted {
                self.wanted = self.wants_more();
            }
        }
    }

    /// How much head the inspector wants, given what it has.
    fn wants_more(&self) -> usize {
        let captured = Captured {
            head: &self.head,
            tail: &[],
            size: None,
        };
        match inspect(&captured) {
            Err(Need::Head(end)) => end.next_multiple_of(MIN_HEAD).min(BOUND),
            Err(Need::Tail) | Ok(_) => self.head.len(),
        }
    }

    /// The bytes seen so far.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The inspection of all the data seen.
    pub(crate) fn finish(&self) -> Inspection {
        let keep = self.window.len().min(TAIL);
        let captured = Captured {
            head: &self.head,
            tail: &self.window[self.window.len() - keep..],
            size: Some(self.total),
        };
        inspect(&captured).unwrap_or_else(|_| Inspection {
            format: Format::Raw,
            virtual_size: Some(self.total),
            finding: Some(Finding::OutOfRange(
                "a header that points back to bytes already passed".into(),
            )),
        })
    }
}
