//! `least_conn` exactly as nginx/nginx:
//! src/http/modules/ngx_http_upstream_least_conn_module.c
//! (`ngx_http_upstream_get_least_conn_peer`): the usable peer with the fewest
//! active connections per weight, compared by cross-multiplication
//! (`conns * best.weight < best.conns * weight`); on a tie, smooth weighted
//! round-robin among the tied peers only, starting from the first of them.

use super::state::PeerState;
use super::Tried;

pub fn pick(peers: &mut [PeerState], tried: &Tried, now: u64) -> Option<usize> {
    let ok = |i: usize, p: &PeerState| !tried.contains(i) && p.usable(now);
    let mut best: Option<usize> = None;
    let mut many = false;
    for (i, p) in peers.iter().enumerate() {
        if !ok(i, p) {
            continue;
        }
        match best.and_then(|b| peers.get(b)) {
            None => {
                best = Some(i);
                many = false;
            }
            Some(b) => {
                let lhs = u64::from(p.conns) * b.weight as u64;
                let rhs = u64::from(b.conns) * p.weight as u64;
                if lhs < rhs {
                    best = Some(i);
                    many = false;
                } else if lhs == rhs {
                    many = true;
                }
            }
        }
    }
    let first = best?;
    if !many {
        return Some(first);
    }
    // The tie-break walk starts at the first tied peer; every peer tied with it
    // (same conns/weight ratio) takes part.
    let (fc, fw) = peers.get(first).map(|p| (u64::from(p.conns), p.weight as u64))?;
    super::rr::pick_among(peers, |i, p| {
        i >= first && ok(i, p) && u64::from(p.conns) * fw == fc * p.weight as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(w: &[u32], conns: &[u32]) -> Vec<PeerState> {
        w.iter()
            .zip(conns)
            .map(|(&w, &c)| {
                let mut p = PeerState::weighted(w);
                p.conns = c;
                p
            })
            .collect()
    }

    #[test]
    fn fewest_connections_per_weight() {
        let t = Tried::default();
        // 3/1 vs 4/2: 3*2 = 6 > 4*1 = 4, so the second (2 per weight) wins.
        assert_eq!(pick(&mut peers(&[1, 2], &[3, 4]), &t, 1), Some(1));
        assert_eq!(pick(&mut peers(&[1, 1, 1], &[2, 0, 1]), &t, 1), Some(1));
        // 2/1 vs 5/2: 2*2 = 4 < 5*1 = 5 -> the first.
        assert_eq!(pick(&mut peers(&[1, 2], &[2, 5]), &t, 1), Some(0));
    }

    #[test]
    fn ties_go_round_robin_among_tied_only() {
        let t = Tried::default();
        // Peer 0 has more connections; 1 and 2 tie at 0 and alternate by WRR.
        let mut p = peers(&[1, 1, 1], &[5, 0, 0]);
        let seq: Vec<_> = (0..4).map(|_| pick(&mut p, &t, 1).unwrap()).collect();
        assert_eq!(seq, [1, 2, 1, 2]);
        assert_eq!(p[0].current_weight, 0, "the loser's weights are untouched");
        // Weighted tie: 0/3 and 0/1 tie; WRR 3:1 among them.
        let mut p = peers(&[3, 1], &[0, 0]);
        let seq: Vec<_> = (0..4).map(|_| pick(&mut p, &t, 1).unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0]);
        // Proportional tie: 2/2 and 1/1.
        let mut p = peers(&[2, 1], &[2, 1]);
        assert_eq!(pick(&mut p, &t, 1), Some(0));
        assert_eq!(pick(&mut p, &t, 1), Some(1));
    }

    #[test]
    fn skips_tried_and_down() {
        let mut p = peers(&[1, 1], &[0, 3]);
        let mut t = Tried::default();
        t.insert(0);
        assert_eq!(pick(&mut p, &t, 1), Some(1));
        p[1].down = true;
        assert_eq!(pick(&mut p, &t, 1), None);
    }
}
