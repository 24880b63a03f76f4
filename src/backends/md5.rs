//! MD5 (RFC 1321), written out for the one thing that limits it: the
//! chain of dependent steps inside a block.
//!
//! MD5 cannot be split across cores, so a registration or an upload takes
//! at least as long as one core needs for it (docs/behaviour.md, "Hashing").
//! The `md-5` crate's implementations (its portable one and its assembly)
//! took 0.72-0.78 s of CPU for 512 MiB on this project's machine, where
//! `md5sum` takes 0.63-0.66 s; this one takes 0.58 s (BENCHMARKS.md,
//! "512 MiB against md5sum"). The difference is the order of the additions.
//! Each step is `a = b + rotl(a + f(b, c, d) + m + k, s)`, and only `b` is
//! new: `a + m + k` (and, in the second round, the half of `g` that needs
//! no `b`) can be added while the step before is still running, leaving
//! `f`'s last operations, one addition, the rotation and `+ b` on the
//! chain. The compiler likes to move the constant's addition to the end,
//! where it lengthens the chain by one operation per step; `opaque` keeps
//! the sums where they are written. The crate stays as the reference the
//! tests hold this one to.

/// The sine-derived constants, one per step.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// The order in which each round takes the block's words.
const WORDS: [[usize; 16]; 4] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [1, 6, 11, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12],
    [5, 8, 11, 14, 1, 4, 7, 10, 13, 0, 3, 6, 9, 12, 15, 2],
    [0, 7, 14, 5, 12, 3, 10, 1, 8, 15, 6, 13, 4, 11, 2, 9],
];

/// Each round's rotations, step by step within four.
const SHIFTS: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

/// The state before any byte.
const INITIAL: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// A value the compiler may not look into, so that it computes it where it
/// is written and does not fold it into a later sum.
#[inline(always)]
fn opaque(v: u32) -> u32 {
    std::hint::black_box(v)
}

/// One step of round `$f`: `$a` becomes the step's result.
macro_rules! step {
    (F, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr, $s:expr) => {
        // f = (b & c) | (!b & d), written as d ^ (b & (c ^ d)).
        let early = opaque($a.wrapping_add($m).wrapping_add(K[$i]));
        let cd = opaque($c ^ $d);
        $a = early
            .wrapping_add($d ^ ($b & cd))
            .rotate_left($s)
            .wrapping_add($b);
    };
    (G, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr, $s:expr) => {
        // g = (b & d) | (c & !d): the two halves share no bit, so they
        // may be added, and the one without `b` added early.
        let early = opaque(
            $a.wrapping_add($m)
                .wrapping_add(K[$i])
                .wrapping_add($c & !$d),
        );
        $a = early.wrapping_add($b & $d).rotate_left($s).wrapping_add($b);
    };
    (H, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($m).wrapping_add(K[$i]));
        $a = early
            .wrapping_add($b ^ ($c ^ $d))
            .rotate_left($s)
            .wrapping_add($b);
    };
    (I, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $i:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($m).wrapping_add(K[$i]));
        let not_d = opaque(!$d);
        $a = early
            .wrapping_add($c ^ ($b | not_d))
            .rotate_left($s)
            .wrapping_add($b);
    };
}

/// Four steps of a round: the state's words in turn, message words `$w`
/// from the round's order, the round's rotations `$s`.
macro_rules! four {
    ($f:ident, ($a:ident, $b:ident, $c:ident, $d:ident), $x:ident, $i:expr, $w:expr, $s:expr) => {
        step!($f, $a, $b, $c, $d, $x[$w[0]], $i, $s[0]);
        step!($f, $d, $a, $b, $c, $x[$w[1]], $i + 1, $s[1]);
        step!($f, $c, $d, $a, $b, $x[$w[2]], $i + 2, $s[2]);
        step!($f, $b, $c, $d, $a, $x[$w[3]], $i + 3, $s[3]);
    };
}

/// Mixes one 64-byte block into `state`.
#[inline(always)]
fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut x = [0u32; 16];
    for (word, bytes) in x.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    macro_rules! round {
        ($f:ident, $r:expr) => {
            let (w, s, base) = (WORDS[$r], SHIFTS[$r], 16 * $r);
            four!($f, (a, b, c, d), x, base, [w[0], w[1], w[2], w[3]], s);
            four!($f, (a, b, c, d), x, base + 4, [w[4], w[5], w[6], w[7]], s);
            four!($f, (a, b, c, d), x, base + 8, [w[8], w[9], w[10], w[11]], s);
            four!(
                $f,
                (a, b, c, d),
                x,
                base + 12,
                [w[12], w[13], w[14], w[15]],
                s
            );
        };
    }
    round!(F, 0);
    round!(G, 1);
    round!(H, 2);
    round!(I, 3);
    for (word, add) in state.iter_mut().zip([a, b, c, d]) {
        *word = word.wrapping_add(add);
    }
}

/// An MD5 digest fed in pieces of any size.
#[derive(Clone)]
pub(crate) struct Md5 {
    state: [u32; 4],
    /// Bytes fed so far.
    length: u64,
    /// The start of a block not yet complete.
    pending: [u8; 64],
    /// How much of `pending` is filled.
    filled: usize,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A digest that has seen no bytes.
    pub(crate) fn new() -> Self {
        Md5 {
            state: INITIAL,
            length: 0,
            pending: [0; 64],
            filled: 0,
        }
    }

    /// Feeds the next bytes.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < 64 {
                return;
            }
            let block = self.pending;
            compress(&mut self.state, &block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            compress(&mut self.state, block.try_into().expect("64 bytes"));
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// The digest of everything fed.
    pub(crate) fn finalize(self) -> [u8; 16] {
        let Md5 {
            mut state,
            length,
            pending,
            filled,
        } = self;
        // The pad: a 1 bit, zeros to 56 bytes past a block's start, and the
        // length in bits, little-endian, in the last 8 bytes.
        let mut tail = [0u8; 128];
        tail[..filled].copy_from_slice(&pending[..filled]);
        tail[filled] = 0x80;
        let end = if filled < 56 { 64 } else { 128 };
        tail[end - 8..end].copy_from_slice(&length.wrapping_mul(8).to_le_bytes());
        for block in tail[..end].chunks_exact(64) {
            compress(&mut state, block.try_into().expect("64 bytes"));
        }
        let mut out = [0u8; 16];
        for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    /// The digest of everything fed, in lower-case hex.
    pub(crate) fn finalize_hex(self) -> String {
        hex::encode(self.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;
    use md5::Digest;
    use proptest::prelude::*;

    fn hex_of(data: &[u8]) -> String {
        let mut h = Md5::new();
        h.update(data);
        h.finalize_hex()
    }

    #[test]
    fn gives_rfc_1321s_test_suite() {
        let suite = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in suite {
            assert_eq!(hex_of(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn agrees_with_the_md5_crate_at_every_length_around_the_pad() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for n in 0..data.len() {
            let want = hex::encode(md5::Md5::digest(&data[..n]));
            assert_eq!(hex_of(&data[..n]), want, "{n} bytes");
        }
    }

    proptest! {
        #[test]
        fn any_split_gives_the_md5_crates_digest(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            cuts in proptest::collection::vec(0usize..2000, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut h = Md5::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                h.update(&data[from..c]);
                from = c;
            }
            prop_assert_eq!(h.finalize_hex(), hex::encode(md5::Md5::digest(&data)));
        }
    }
}
