//! `hash KEY [consistent]` exactly as nginx/nginx:
//! src/http/modules/ngx_http_upstream_hash_module.c.
//!
//! Plain hash (Cache::Memcached compatible): attempt n hashes
//! `crc32([n] KEY)` (n omitted the first time), adds `(h >> 16) & 0x7fff`
//! to a running sum and walks the weights with `sum % total_weight`.
//! Consistent hash (ketama, Cache::Memcached::Fast compatible): 160 points
//! per weight unit per peer, seeded with `crc32(HOST "\0" PORT)` of the
//! server's text as configured and chained through the previous point's
//! little-endian bytes; the request takes the first point `>= crc32(KEY)`.
//! Both give up after 20 probes and fall back to round-robin.

use super::ip_hash::{walk, FallBack};
use super::state::PeerState;
use super::Tried;

/// Probes before falling back to round-robin.
pub const MAX_TRIES: u32 = 20;

/// IEEE CRC-32 (`ngx_crc32_table256`, reflected 0xEDB88320), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// nginx's `ngx_crc32_init`/`update`/`final` split, for hashing several pieces.
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Crc32 {
    pub fn new() -> Crc32 {
        Crc32(0xFFFF_FFFF)
    }

    pub fn update(mut self, data: &[u8]) -> Crc32 {
        for &b in data {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
        self
    }

    pub fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    Crc32::new().update(data).finish()
}

/// Per-request state, kept across retries as nginx keeps `hp`.
#[derive(Debug, Clone, Default)]
pub struct HashState {
    /// Plain: the running sum. Consistent: the point index.
    pub hash: u64,
    pub rehash: u64,
    pub tries: u32,
}

/// Plain `hash KEY`: a primary peer index, or `Err(FallBack)` for round-robin.
pub fn pick(
    peers: &[PeerState],
    st: &mut HashState,
    key: &[u8],
    tried: &Tried,
    now: u64,
) -> Result<usize, FallBack> {
    if st.tries > MAX_TRIES || peers.len() < 2 || key.is_empty() {
        return Err(FallBack);
    }
    let total: u64 = peers.iter().map(|p| p.weight as u64).sum();
    if total == 0 {
        return Err(FallBack);
    }
    loop {
        let mut c = Crc32::new();
        if st.rehash > 0 {
            c = c.update(st.rehash.to_string().as_bytes());
        }
        let h = c.update(key).finish();
        st.hash = st.hash.wrapping_add(u64::from((h >> 16) & 0x7fff));
        st.rehash += 1;
        let i = walk(peers, st.hash % total);
        if !tried.contains(i) && peers.get(i).is_some_and(|p| p.usable(now)) {
            return Ok(i);
        }
        st.tries += 1;
        if st.tries > MAX_TRIES {
            return Err(FallBack);
        }
    }
}

/// The ketama ring: sorted, de-duplicated points, each naming a server text.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// (point, server id); server ids index `names`.
    pub points: Vec<(u32, u32)>,
    /// Per primary peer: its server id (peers from one `server` line share it).
    pub peer_server: Vec<u32>,
}

/// Splits a server's text into (host, port) as `ngx_http_upstream_init_chash` does.
fn host_port(server: &str) -> (&[u8], &[u8]) {
    let b = server.as_bytes();
    if let Some(path) = b
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case(b"unix:"))
        .and(b.get(5..))
    {
        return (path, b"");
    }
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let colon = b.len().checked_sub(digits + 1);
    match colon {
        Some(c) if b.get(c) == Some(&b':') => (b.get(..c).unwrap_or(b), b.get(c + 1..).unwrap_or(b"")),
        _ => (b, b""),
    }
}

impl Ring {
    /// `names[i]` is primary peer i's server text and `weights[i]` its weight.
    pub fn build(names: &[&str], weights: &[u32]) -> Ring {
        let mut ids: Vec<&str> = Vec::new();
        let mut peer_server = Vec::with_capacity(names.len());
        let mut points = Vec::new();
        for (name, &w) in names.iter().zip(weights) {
            let id = match ids.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    ids.push(name);
                    ids.len() - 1
                }
            } as u32;
            peer_server.push(id);
            let (host, port) = host_port(name);
            let base = Crc32::new().update(host).update(b"\0").update(port);
            let mut prev: u32 = 0;
            for _ in 0..(w.max(1) as usize * 160) {
                let h = base.update(&prev.to_le_bytes()).finish();
                points.push((h, id));
                prev = h;
            }
        }
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        Ring { points, peer_server }
    }

    /// `ngx_http_upstream_find_chash_point`: the first point with hash >= h
    /// (may be one past the end; the caller wraps with `% len`).
    pub fn find(&self, h: u32) -> usize {
        self.points.partition_point(|p| p.0 < h)
    }
}

/// `hash KEY consistent`: a primary peer index, or `Err(FallBack)` for round-robin.
/// `st.hash` must hold `ring.find(crc32(key))` before the first call.
pub fn pick_consistent(
    peers: &mut [PeerState],
    ring: &Ring,
    st: &mut HashState,
    key_empty: bool,
    tried: &Tried,
    now: u64,
) -> Result<usize, FallBack> {
    if st.tries > MAX_TRIES || peers.len() < 2 || key_empty || ring.points.is_empty() {
        return Err(FallBack);
    }
    loop {
        let idx = (st.hash % ring.points.len() as u64) as usize;
        let server = ring.points.get(idx).map_or(u32::MAX, |p| p.1);
        let best = super::rr::pick_among(peers, |i, p| {
            !tried.contains(i) && ring.peer_server.get(i) == Some(&server) && p.usable(now)
        });
        if let Some(b) = best {
            return Ok(b);
        }
        st.hash += 1;
        st.tries += 1;
        if st.tries > MAX_TRIES {
            return Err(FallBack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(w: &[u32]) -> Vec<PeerState> {
        w.iter().map(|&w| PeerState::weighted(w)).collect()
    }

    #[test]
    fn crc32_vectors() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        assert_eq!(
            Crc32::new().update(b"1234").update(b"56789").finish(),
            0xCBF4_3926
        );
    }

    /// Values from Python's zlib.crc32 applied to nginx's formula.
    #[test]
    fn plain_hash_vectors() {
        let key = b"/index.html";
        let h = crc32(key);
        let part = u64::from((h >> 16) & 0x7fff);
        let p = peers(&[1, 1, 1]);
        let mut st = HashState::default();
        assert_eq!(
            pick(&p, &mut st, key, &Tried::default(), 1),
            Ok((part % 3) as usize)
        );
        for (key, n, want) in GOLDEN_PLAIN {
            let p = peers(&vec![1; *n]);
            let got = pick(
                &p,
                &mut HashState::default(),
                key.as_bytes(),
                &Tried::default(),
                1,
            );
            assert_eq!(got, Ok(*want), "{key} over {n}");
        }
    }

    /// (key, peers of weight 1, peer) worked out with Python's zlib.crc32:
    /// `((crc32(key) >> 16) & 0x7fff) % n`.
    const GOLDEN_PLAIN: &[(&str, usize, usize)] = &[
        ("a", 2, 1),
        ("a", 3, 2),
        ("/x", 3, 1),
        ("user42", 5, 1),
        ("10.0.0.1", 4, 2),
    ];

    #[test]
    fn plain_hash_rehash_on_down_peer() {
        let mut p = peers(&[1, 1, 1]);
        let mut st = HashState::default();
        let first = pick(&p, &mut st, b"user42", &Tried::default(), 1).unwrap();
        p[first].down = true;
        let mut st = HashState::default();
        let second = pick(&p, &mut st, b"user42", &Tried::default(), 1).unwrap();
        assert_ne!(first, second);
        // "user42" -> slot 0 (down); "1user42" adds up to 56004 -> slot 0 again;
        // "2user42" brings the sum to 84545 -> slot 2 (Python's zlib.crc32).
        let parts: Vec<u64> = ["user42", "1user42", "2user42"]
            .iter()
            .map(|k| u64::from((crc32(k.as_bytes()) >> 16) & 0x7fff))
            .collect();
        assert_eq!(first, 0);
        assert_eq!(st.rehash, 3);
        assert_eq!(st.tries, 2);
        assert_eq!(st.hash, parts.iter().sum::<u64>());
        assert_eq!(st.hash, 84545);
        assert_eq!(second, 2);
        assert_eq!(
            pick(&p, &mut HashState::default(), b"", &Tried::default(), 1),
            Err(FallBack)
        );
    }

    #[test]
    fn ring_points() {
        let r = Ring::build(&["127.0.0.1:8080", "127.0.0.1:8081"], &[1, 2]);
        assert_eq!(r.points.len(), 480);
        assert!(r.points.windows(2).all(|w| w[0].0 < w[1].0));
        // The first point of a server: crc32("127.0.0.1" "\0" "8080" 00 00 00 00).
        let first = crc32(b"127.0.0.1\x008080\x00\x00\x00\x00");
        assert!(r.points.contains(&(first, 0)));
        let second = crc32(&[b"127.0.0.1\x008080".as_slice(), &first.to_le_bytes()].concat());
        assert!(r.points.contains(&(second, 0)));
        assert_eq!(host_port("unix:/tmp/s"), (&b"/tmp/s"[..], &b""[..]));
        assert_eq!(host_port("example.com"), (&b"example.com"[..], &b""[..]));
        assert_eq!(host_port("[::1]:80"), (&b"[::1]"[..], &b"80"[..]));
        // Peers from one server line (same text) share the points.
        let r2 = Ring::build(&["a:1", "a:1"], &[1, 1]);
        assert_eq!(r2.points.len(), 160);
        assert_eq!(r2.peer_server, [0, 0]);
    }

    #[test]
    fn consistent_vectors() {
        let names = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"];
        let r = Ring::build(&names, &[1, 1, 1]);
        let mut p = peers(&[1, 1, 1]);
        for (key, want) in GOLDEN_CHASH {
            let mut st = HashState {
                hash: r.find(crc32(key.as_bytes())) as u64,
                ..HashState::default()
            };
            let got = pick_consistent(&mut p, &r, &mut st, false, &Tried::default(), 1);
            assert_eq!(got, Ok(*want), "{key}");
        }
        // Removing a server moves only its own keys (the ring property).
        let r2 = Ring::build(&names[..2], &[1, 1]);
        let mut p2 = peers(&[1, 1]);
        for (key, want) in GOLDEN_CHASH {
            if *want == 2 {
                continue;
            }
            let mut st = HashState {
                hash: r2.find(crc32(key.as_bytes())) as u64,
                ..HashState::default()
            };
            assert_eq!(
                pick_consistent(&mut p2, &r2, &mut st, false, &Tried::default(), 1),
                Ok(*want)
            );
        }
    }

    /// (key, peer) over 10.0.0.{1,2,3}:80, worked out with a Python model of
    /// ngx_http_upstream_init_chash / find_chash_point using zlib.crc32.
    const GOLDEN_CHASH: &[(&str, usize)] = &[
        ("a", 1),
        ("b", 2),
        ("/x", 0),
        ("user42", 2),
        ("10.0.0.1", 1),
        ("k7", 2),
        ("session-99", 1),
        ("/img/1.png", 0),
    ];
}
