//! Sketches for the local (D1-backed) vector index. A Worker cannot hold 100k float vectors
//! and compare them all per query within its CPU budget, so each vector is reduced to a
//! 1024-bit SimHash sketch (128 bytes) kept in memory: a query scans the sketches by
//! Hamming distance — a few XOR/popcounts each — and only the best candidates are fetched
//! and re-ranked by exact cosine. The projection is a structured random rotation (random
//! signs + Walsh–Hadamard, applied twice) rather than a dense Gaussian matrix, which would
//! cost 3 MB and ~800k multiplications per vector. Everything is derived from a fixed seed
//! so sketches stored by one build or platform stay valid for every other.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

pub const SKETCH_WORDS: usize = 16;
pub const SKETCH_BITS: usize = SKETCH_WORDS * 64;
pub const SKETCH_BYTES: usize = SKETCH_WORDS * 8;
pub type Sketch = [u64; SKETCH_WORDS];

/// Changing the seed (or the PRNG) invalidates every stored sketch.
const SEED: u64 = 0x6d65_6d67_6174_6531;

struct Projection {
    signs1: [f32; SKETCH_BITS],
    signs2: [f32; SKETCH_BITS],
    perm: [u16; SKETCH_BITS],
}

fn projection() -> &'static Projection {
    static P: OnceLock<Projection> = OnceLock::new();
    P.get_or_init(|| {
        let mut rng = SplitMix64(SEED);
        let mut p = Projection {
            signs1: [0.0; SKETCH_BITS],
            signs2: [0.0; SKETCH_BITS],
            perm: [0; SKETCH_BITS],
        };
        fill_signs(&mut rng, &mut p.signs1);
        fill_signs(&mut rng, &mut p.signs2);
        for (i, slot) in p.perm.iter_mut().enumerate() {
            *slot = i as u16;
        }
        for i in (1..SKETCH_BITS).rev() {
            // Modulo bias is irrelevant here: any fixed permutation works, it only has to be
            // reproducible.
            let j = (rng.next() % (i as u64 + 1)) as usize;
            p.perm.swap(i, j);
        }
        p
    })
}

fn fill_signs(rng: &mut SplitMix64, out: &mut [f32; SKETCH_BITS]) {
    for chunk in out.chunks_mut(64) {
        let bits = rng.next();
        for (k, s) in chunk.iter_mut().enumerate() {
            *s = if bits >> k & 1 == 1 { -1.0 } else { 1.0 };
        }
    }
}

/// splitmix64: tiny, well mixed and fully specified, so the projection is the same
/// everywhere (unlike `rand`, whose streams may change between versions).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// In-place unnormalised fast Walsh–Hadamard transform; only signs are used afterwards, so
/// the missing 1/√n scale does not matter. Additions alone keep it bit-exact everywhere.
fn fwht(buf: &mut [f32; SKETCH_BITS]) {
    let mut h = 1;
    while h < SKETCH_BITS {
        for chunk in buf.chunks_exact_mut(2 * h) {
            let (lo, hi) = chunk.split_at_mut(h);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let (a, b) = (*x, *y);
                *x = a + b;
                *y = a - b;
            }
        }
        h *= 2;
    }
}

/// The 1024-bit SimHash of `v`: bit i is the sign of the i-th output of a fixed pseudo-random
/// rotation, so the expected Hamming distance of two sketches is 1024·θ/π for the angle θ
/// between the vectors. Shorter vectors are zero-padded; longer ones are folded, which
/// keeps the map linear (and thus angle-preserving in expectation).
pub fn sketch(v: &[f32]) -> Sketch {
    let p = projection();
    let mut a = [0.0f32; SKETCH_BITS];
    for (i, &x) in v.iter().enumerate() {
        a[i % SKETCH_BITS] += x;
    }
    for (x, s) in a.iter_mut().zip(&p.signs1) {
        *x *= s;
    }
    fwht(&mut a);
    // A single round maps a one-hot or very sparse input onto just a few Hadamard rows, whose
    // sign patterns are highly structured; permuting and re-randomising before a second round
    // spreads every input coordinate over all outputs.
    let mut b = [0.0f32; SKETCH_BITS];
    for ((out, &src), s) in b.iter_mut().zip(&p.perm).zip(&p.signs2) {
        *out = a[src as usize] * s;
    }
    fwht(&mut b);
    let mut s = [0u64; SKETCH_WORDS];
    for (word, chunk) in s.iter_mut().zip(b.chunks_exact(64)) {
        for (k, &x) in chunk.iter().enumerate() {
            if x > 0.0 {
                *word |= 1 << k;
            }
        }
    }
    s
}

pub fn hamming(a: &Sketch, b: &Sketch) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The angle (radians) between two vectors as estimated from their sketches.
pub fn estimated_angle(a: &Sketch, b: &Sketch) -> f64 {
    std::f64::consts::PI * f64::from(hamming(a, b)) / SKETCH_BITS as f64
}

/// The `n` sketches closest to `query` as `(index, distance)`, nearest first, ties by index.
/// One counting pass over the distances (0..=1024) finds the cut-off, a second places the
/// winners directly in order: O(len) with no sort, which matters at 100k entries.
pub fn top_candidates(query: &Sketch, sketches: &[Sketch], n: usize) -> Vec<(usize, u32)> {
    let n = n.min(sketches.len());
    if n == 0 {
        return Vec::new();
    }
    let mut hist = [0u32; SKETCH_BITS + 1];
    let dists: Vec<u16> = sketches
        .iter()
        .map(|s| {
            let d = hamming(query, s) as u16;
            hist[usize::from(d)] += 1;
            d
        })
        .collect();
    // Turn the histogram into start offsets up to the distance where the n-th winner lies.
    let mut cut = SKETCH_BITS;
    let mut acc = 0u32;
    for (d, slot) in hist.iter_mut().enumerate() {
        let count = *slot;
        *slot = acc;
        acc += count;
        if acc as usize >= n {
            cut = d;
            break;
        }
    }
    let mut out = vec![(0usize, 0u32); n];
    for (i, &d) in dists.iter().enumerate() {
        let d = usize::from(d);
        if d > cut {
            continue;
        }
        let pos = hist[d] as usize;
        // Only the cut-off distance can overflow its share; later ties lose to earlier ones.
        if pos < n {
            out[pos] = (i, d as u32);
            hist[d] += 1;
        }
    }
    out
}

pub fn sketch_to_bytes(s: &Sketch) -> [u8; SKETCH_BYTES] {
    let mut out = [0u8; SKETCH_BYTES];
    for (chunk, w) in out.chunks_exact_mut(8).zip(s) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// `None` unless `b` is exactly [`SKETCH_BYTES`] long.
pub fn sketch_from_bytes(b: &[u8]) -> Option<Sketch> {
    if b.len() != SKETCH_BYTES {
        return None;
    }
    let mut s = [0u64; SKETCH_WORDS];
    for (w, chunk) in s.iter_mut().zip(b.chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().ok()?);
    }
    Some(s)
}

pub fn encode_sketch(s: &Sketch) -> String {
    STANDARD.encode(sketch_to_bytes(s))
}

pub fn decode_sketch(s: &str) -> Option<Sketch> {
    sketch_from_bytes(&STANDARD.decode(s).ok()?)
}

/// Standard base64 of the little-endian `f32` bytes: compact for D1/KV and exact.
pub fn encode_f32s(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    STANDARD.encode(bytes)
}

pub fn decode_f32s(s: &str) -> Option<Vec<f32>> {
    let bytes = STANDARD.decode(s).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    struct Rng(SplitMix64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Rng(SplitMix64(seed))
        }
        fn uniform(&mut self) -> f64 {
            (self.0.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn gauss(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
        }
        fn vector(&mut self, dims: usize) -> Vec<f32> {
            (0..dims).map(|_| self.gauss() as f32).collect()
        }
        fn sketch(&mut self) -> Sketch {
            std::array::from_fn(|_| self.0.next())
        }
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn cos(a: &[f32], b: &[f32]) -> f64 {
        dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
    }

    /// A unit vector at exactly `theta` radians from the unit vector `a`.
    fn at_angle(a: &[f32], theta: f64, rng: &mut Rng) -> Vec<f32> {
        let mut u = rng.vector(a.len());
        let proj = dot(&u, a);
        for (x, y) in u.iter_mut().zip(a) {
            *x -= (proj * f64::from(*y)) as f32;
        }
        let nu = dot(&u, &u).sqrt();
        a.iter()
            .zip(&u)
            .map(|(x, y)| (theta.cos() * f64::from(*x) + theta.sin() * f64::from(*y) / nu) as f32)
            .collect()
    }

    fn unit(mut v: Vec<f32>) -> Vec<f32> {
        let n = dot(&v, &v).sqrt();
        for x in &mut v {
            *x = (f64::from(*x) / n) as f32;
        }
        v
    }

    #[test]
    fn projection_is_a_permutation_with_balanced_signs() {
        let p = projection();
        let mut seen = [false; SKETCH_BITS];
        for &i in &p.perm {
            assert!(!seen[i as usize]);
            seen[i as usize] = true;
        }
        for signs in [&p.signs1, &p.signs2] {
            let neg = signs.iter().filter(|s| **s < 0.0).count();
            assert!((400..624).contains(&neg), "{neg}");
        }
        assert_ne!(p.signs1, p.signs2);
    }

    #[test]
    fn sketch_is_pinned() {
        // Stored sketches depend on these exact bits; a change here needs a re-index.
        let v: Vec<f32> = (0..768)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let s = sketch(&v);
        assert_eq!(s, sketch(&v));
        assert_eq!(s[0], pinned_first_word());
    }

    fn pinned_first_word() -> u64 {
        0x990f_da7a_62fe_8e9c
    }

    #[test]
    fn identical_vectors_have_distance_zero() {
        let mut rng = Rng::new(1);
        let v = rng.vector(768);
        assert_eq!(hamming(&sketch(&v), &sketch(&v)), 0);
        // Scale does not change a SimHash.
        let scaled: Vec<f32> = v.iter().map(|x| x * 7.5).collect();
        assert_eq!(hamming(&sketch(&v), &sketch(&scaled)), 0);
        // The opposite vector flips (almost) every bit.
        let neg: Vec<f32> = v.iter().map(|x| -x).collect();
        assert!(hamming(&sketch(&v), &sketch(&neg)) > 1000);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(sketch(&[]), [0; SKETCH_WORDS]);
        assert_eq!(sketch(&[0.0; 768]), [0; SKETCH_WORDS]);
        let _ = sketch(&[f32::NAN; 10]);
        let _ = sketch(&[f32::INFINITY, f32::NEG_INFINITY]);
        // Longer than the sketch width: folded, still deterministic.
        let long: Vec<f32> = (0..3000).map(|i| (i as f32).sin()).collect();
        assert_eq!(sketch(&long), sketch(&long));
        assert_ne!(sketch(&long), [0; SKETCH_WORDS]);
    }

    #[test]
    fn similar_dense_vectors_are_closer() {
        let mut rng = Rng::new(2);
        for _ in 0..20 {
            let a = unit(rng.vector(768));
            let near = at_angle(&a, 0.3, &mut rng);
            let far = at_angle(&a, 1.2, &mut rng);
            let sa = sketch(&a);
            assert!(hamming(&sa, &sketch(&near)) < hamming(&sa, &sketch(&far)));
        }
    }

    #[test]
    fn similar_sparse_vectors_are_closer() {
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            // Ten non-zeros out of 768, like a short text from the hashing embedder.
            let mut a = vec![0.0f32; 768];
            let idx: Vec<usize> = (0..10).map(|_| (rng.0.next() % 768) as usize).collect();
            for &i in &idx {
                a[i] = 1.0;
            }
            let mut near = a.clone();
            near[idx[0]] = 0.0;
            near[(idx[0] + 1) % 768] += 1.0;
            let mut far = vec![0.0f32; 768];
            for _ in 0..10 {
                far[(rng.0.next() % 768) as usize] = 1.0;
            }
            assert!(cos(&a, &near) > cos(&a, &far));
            let sa = sketch(&a);
            assert!(
                hamming(&sa, &sketch(&near)) < hamming(&sa, &sketch(&far)),
                "{} vs {}",
                hamming(&sa, &sketch(&near)),
                hamming(&sa, &sketch(&far))
            );
        }
        // One-hot inputs: distinct axes are orthogonal, so ~half the bits must differ.
        let mut e1 = vec![0.0f32; 768];
        let mut e2 = vec![0.0f32; 768];
        e1[5] = 1.0;
        e2[700] = 1.0;
        let h = hamming(&sketch(&e1), &sketch(&e2));
        assert!((400..624).contains(&h), "{h}");
    }

    #[test]
    fn hamming_estimates_the_angle() {
        let mut rng = Rng::new(4);
        for &theta in &[0.05, 0.2, 0.5, 0.8, 1.0, PI / 2.0, 2.0, 2.8] {
            for _ in 0..5 {
                let a = unit(rng.vector(768));
                let b = at_angle(&a, theta, &mut rng);
                let true_theta = cos(&a, &b).clamp(-1.0, 1.0).acos();
                let est = estimated_angle(&sketch(&a), &sketch(&b));
                assert!((est - true_theta).abs() < 0.15, "θ={true_theta} est={est}");
            }
        }
    }

    #[test]
    fn encodings_round_trip() {
        let mut rng = Rng::new(5);
        let s = rng.sketch();
        assert_eq!(sketch_from_bytes(&sketch_to_bytes(&s)), Some(s));
        assert_eq!(decode_sketch(&encode_sketch(&s)), Some(s));
        assert_eq!(encode_sketch(&s).len(), 172);
        let bytes = sketch_to_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 << 63]);
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[127], 0x80);

        let v = vec![0.0, -0.0, 1.5, -2.25, f32::MIN_POSITIVE, f32::MAX, 1e-30];
        let back = decode_f32s(&encode_f32s(&v)).unwrap();
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(encode_f32s(&[1.0]), "AACAPw==");
        assert_eq!(decode_f32s(""), Some(vec![]));
        let big = rng.vector(768);
        assert_eq!(decode_f32s(&encode_f32s(&big)), Some(big));
    }

    #[test]
    fn decoders_reject_garbage() {
        assert_eq!(sketch_from_bytes(&[0; 127]), None);
        assert_eq!(sketch_from_bytes(&[0; 129]), None);
        assert_eq!(decode_sketch("not base64!"), None);
        assert_eq!(decode_sketch(&STANDARD.encode([0u8; 64])), None);
        assert_eq!(decode_f32s("AAA="), None); // 2 bytes
        assert_eq!(decode_f32s("%%%"), None);
    }

    fn brute_force(q: &Sketch, all: &[Sketch], n: usize) -> Vec<(usize, u32)> {
        let mut v: Vec<(usize, u32)> = all
            .iter()
            .enumerate()
            .map(|(i, s)| (i, hamming(q, s)))
            .collect();
        v.sort_by_key(|&(i, d)| (d, i));
        v.truncate(n);
        v
    }

    #[test]
    fn top_candidates_matches_brute_force() {
        let mut rng = Rng::new(6);
        let all: Vec<Sketch> = (0..500).map(|_| rng.sketch()).collect();
        let q = rng.sketch();
        for n in [0, 1, 2, 10, 57, 499, 500, 1000] {
            assert_eq!(
                top_candidates(&q, &all, n),
                brute_force(&q, &all, n),
                "n={n}"
            );
        }
        // Heavy ties: only a few distinct distances.
        let tied: Vec<Sketch> = (0..300u64)
            .map(|i| {
                let mut s = [0u64; SKETCH_WORDS];
                s[0] = (1u64 << (i % 4)) - 1;
                s
            })
            .collect();
        let zero = [0u64; SKETCH_WORDS];
        for n in [1, 74, 75, 76, 150, 299, 300] {
            assert_eq!(
                top_candidates(&zero, &tied, n),
                brute_force(&zero, &tied, n),
                "n={n}"
            );
        }
        assert!(top_candidates(&q, &[], 5).is_empty());
        let exact = top_candidates(&all[42], &all, 1);
        assert_eq!(exact, vec![(42, 0)]);
    }

    #[test]
    fn recall_of_noisy_copies() {
        let mut rng = Rng::new(7);
        let dims = 768;
        let stored: Vec<Vec<f32>> = (0..2_000).map(|_| unit(rng.vector(dims))).collect();
        let sketches: Vec<Sketch> = stored.iter().map(|v| sketch(v)).collect();
        let mut hits = 0;
        for q in 0..20 {
            let base = &stored[(q * 97) % stored.len()];
            // Noise as large as the signal: cosine to the original is only ~0.7.
            let noise = unit(rng.vector(dims));
            let query: Vec<f32> = base.iter().zip(&noise).map(|(b, n)| b + n).collect();
            // Stored vectors are unit length, so the largest dot product is the best cosine.
            let truth = stored
                .iter()
                .map(|v| dot(&query, v))
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap()
                .0;
            let cands = top_candidates(&sketch(&query), &sketches, 50);
            if cands.iter().any(|&(i, _)| i == truth) {
                hits += 1;
            }
        }
        assert!(hits >= 19, "recall {hits}/20");
    }

    #[test]
    #[ignore = "micro-benchmark; run with --ignored --nocapture (ideally --release)"]
    fn bench_scan_100k() {
        let mut rng = Rng::new(8);
        let all: Vec<Sketch> = (0..100_000).map(|_| rng.sketch()).collect();
        let q = rng.sketch();
        let v = rng.vector(768);
        let started = std::time::Instant::now();
        let rounds = 20;
        let mut sink = 0usize;
        for _ in 0..rounds {
            sink += top_candidates(&q, &all, 400).len();
        }
        let scan = started.elapsed() / rounds;
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            sink += sketch(&v)[0] as usize & 1;
        }
        let sk = started.elapsed() / 1000;
        println!("top_candidates over 100k sketches: {scan:?}; sketch(768 dims): {sk:?} ({sink})");
    }
}
