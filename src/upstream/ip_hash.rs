//! `ip_hash` exactly as nginx/nginx:
//! src/http/modules/ngx_http_upstream_ip_hash_module.c
//! (`ngx_http_upstream_get_ip_hash_peer`): the first three octets of an IPv4
//! client (a /24 sticks together) or all sixteen bytes of an IPv6 one, hashed
//! from 89 with `(h * 113 + b) % 6271`, then a walk over the weights of *all*
//! primary peers (down ones keep their slot, so marking a server `down` moves
//! only its own clients). A peer that cannot take the request makes the hash
//! run again over the same bytes; after 20 such probes the request falls back
//! to round-robin.

use super::state::PeerState;
use super::Tried;
use std::net::IpAddr;

/// nginx's initial hash value (`iphp->hash = 89`).
pub const INITIAL: u32 = 89;
/// Probes before falling back to round-robin (`++iphp->tries > 20`).
pub const MAX_TRIES: u32 = 20;

/// The balancer gave up: the request falls back to round-robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallBack;

/// The key bytes nginx hashes: `(bytes, len)`.
pub fn key(addr: IpAddr) -> ([u8; 16], usize) {
    let mut k = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            k[..3].copy_from_slice(&o[..3]);
            (k, 3)
        }
        // nginx hashes an IPv4-mapped IPv6 client as IPv6 (16 bytes): the
        // listening socket's family decides, not the address inside.
        IpAddr::V6(a) => {
            k.copy_from_slice(&a.octets());
            (k, 16)
        }
    }
}

/// One round of the hash over the key bytes.
pub fn step(mut hash: u32, key: &[u8]) -> u32 {
    for &b in key {
        hash = (hash * 113 + u32::from(b)) % 6271;
    }
    hash
}

/// The peer index that owns slot `w` of the weight space.
pub fn walk(peers: &[PeerState], mut w: u64) -> usize {
    for (i, p) in peers.iter().enumerate() {
        let pw = p.weight as u64;
        if w < pw {
            return i;
        }
        w -= pw;
    }
    peers.len().saturating_sub(1)
}

/// Per-request ip_hash state, kept across retries as nginx keeps `iphp`.
#[derive(Debug, Clone)]
pub struct IpHashState {
    pub hash: u32,
    pub tries: u32,
}

impl Default for IpHashState {
    fn default() -> Self {
        IpHashState {
            hash: INITIAL,
            tries: 0,
        }
    }
}

/// Picks a primary peer, or `Err(FallBack)` when the request must fall back to
/// round-robin (more than 20 probes).
pub fn pick(
    peers: &[PeerState],
    st: &mut IpHashState,
    key: &[u8],
    tried: &Tried,
    now: u64,
) -> Result<usize, FallBack> {
    if st.tries > MAX_TRIES || peers.len() < 2 {
        return Err(FallBack);
    }
    let total: u64 = peers.iter().map(|p| p.weight as u64).sum();
    if total == 0 {
        return Err(FallBack);
    }
    let mut hash = st.hash;
    loop {
        hash = step(hash, key);
        let i = walk(peers, u64::from(hash) % total);
        let ok = !tried.contains(i) && peers.get(i).is_some_and(|p| p.usable(now));
        if ok {
            st.hash = hash;
            return Ok(i);
        }
        st.tries += 1;
        if st.tries > MAX_TRIES {
            return Err(FallBack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn peers(w: &[u32]) -> Vec<PeerState> {
        w.iter().map(|&w| PeerState::weighted(w)).collect()
    }

    fn first(peers: &[PeerState], ip: IpAddr) -> usize {
        let (k, n) = key(ip);
        pick(peers, &mut IpHashState::default(), &k[..n], &Tried::default(), 1).unwrap()
    }

    /// Hash values worked out by hand from nginx's loop:
    /// 192.168.1.x: 89*113+192 = 10249 % 6271 = 3978; 3978*113+168 = 449682 % 6271 = 4441;
    /// 4441*113+1 = 501834 % 6271 = 154.
    #[test]
    fn ipv4_vectors() {
        assert_eq!(step(INITIAL, &[192, 168, 1]), 154);
        // 10.0.0: 89*113+10 = 10067 % 6271 = 3796; 3796*113 = 428948 % 6271 = 2520; 2520*113 = 284760 % 6271 = 2565.
        assert_eq!(step(INITIAL, &[10, 0, 0]), 2565);
        let ip = |s: &str| IpAddr::V4(s.parse::<Ipv4Addr>().unwrap());
        // 154 % 2 = 0, % 3 = 1, with weights {2,1,1} (total 4): 154 % 4 = 2 -> slot of the second peer.
        assert_eq!(first(&peers(&[1, 1]), ip("192.168.1.7")), 0);
        assert_eq!(first(&peers(&[1, 1, 1]), ip("192.168.1.200")), 1);
        assert_eq!(first(&peers(&[2, 1, 1]), ip("192.168.1.1")), 1);
        // 2565 % 3 = 0; % 5 = 0; % 4 = 1.
        assert_eq!(first(&peers(&[1, 1, 1]), ip("10.0.0.1")), 0);
        assert_eq!(first(&peers(&[3, 1]), ip("10.0.0.99")), 0);
        assert_eq!(first(&peers(&[1, 3]), ip("10.0.0.99")), 1);
        // Only the first three octets count.
        assert_eq!(key(ip("1.2.3.4")).1, 3);
        assert_eq!(&key(ip("1.2.3.4")).0[..3], &[1, 2, 3]);
    }

    #[test]
    fn ipv6_vector() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let (k, n) = key(IpAddr::V6(a));
        assert_eq!(n, 16);
        // The reference loop over 20 01 0d b8 00 .. 00 01 (2600, worked out independently in Python):
        let mut h = INITIAL;
        for b in a.octets() {
            h = (h * 113 + u32::from(b)) % 6271;
        }
        assert_eq!(step(INITIAL, &k[..n]), h);
        assert_eq!(h, 2600);
        assert_eq!(first(&peers(&[1, 1, 1]), IpAddr::V6(a)), 2);
    }

    #[test]
    fn down_peer_keeps_its_slot_and_rehashes() {
        let mut p = peers(&[1, 1, 1]);
        let ip = IpAddr::V4("192.168.1.5".parse().unwrap());
        assert_eq!(first(&p, ip), 1);
        p[1].down = true;
        // Slot 1 is down: hash again from 154 over the same bytes.
        // 154*113+192 = 17594 % 6271 = 5052; ...: 5654 % 3 = 2.
        assert_eq!(step(154, &[192, 168, 1]), 5654);
        assert_eq!(first(&p, ip), 2);
        // Clients of other peers do not move.
        let other = IpAddr::V4("10.0.0.1".parse().unwrap());
        assert_eq!(first(&p, other), 0);
    }

    #[test]
    fn falls_back_after_20_probes() {
        let mut p = peers(&[1, 1]);
        p[0].down = true;
        p[1].down = true;
        let mut st = IpHashState::default();
        let r = pick(&p, &mut st, &[1, 2, 3], &Tried::default(), 1);
        assert_eq!(r, Err(FallBack));
        assert_eq!(st.tries, 21);
        assert_eq!(st.hash, INITIAL, "hash saved only on success");
        assert_eq!(
            pick(
                &peers(&[1]),
                &mut IpHashState::default(),
                &[1, 2, 3],
                &Tried::default(),
                1
            ),
            Err(FallBack)
        );
    }

    #[test]
    fn retry_continues_from_saved_hash() {
        let p = peers(&[1, 1, 1, 1, 1]);
        let mut st = IpHashState::default();
        let mut tried = Tried::default();
        let a = pick(&p, &mut st, &[192, 168, 1], &tried, 1).unwrap();
        assert_eq!((a, st.hash), (154 % 5, 154));
        tried.insert(a);
        let b = pick(&p, &mut st, &[192, 168, 1], &tried, 1).unwrap();
        assert_ne!(a, b);
    }
}
