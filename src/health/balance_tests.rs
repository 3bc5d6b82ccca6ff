//! Every balancer skips check-down peers (check_1.16.1+.patch puts
//! `ngx_http_upstream_check_peer_down` in round robin, ip_hash, hash and
//! least_conn), backups are used when every primary is check-down, and fail
//! open routes over all peers only when opted in.

use super::{CheckConf, PeerHealth};
use crate::config::units::Dur;
use crate::upstream::{Balance, Outcome, Peer, Pool};
use std::net::IpAddr;
use std::sync::Arc;

fn peer(port: u16, backup: bool) -> Peer {
    Peer {
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        name: format!("127.0.0.1:{port}"),
        server: format!("127.0.0.1:{port}"),
        weight: 1,
        max_fails: 1,
        fail_timeout: Dur::secs(10),
        max_conns: 0,
        backup,
        down: false,
    }
}

/// A checked pool of `n` primaries (+ `backups`), every peer up.
fn pool(n: u16, backups: u16, balance: Balance, fail_open: bool) -> (Pool, Vec<Arc<PeerHealth>>) {
    let conf = Arc::new(CheckConf::build("default_down=false", None, None, None, None, None).unwrap());
    let peers: Vec<Peer> = (0..n)
        .map(|i| peer(1000 + i, false))
        .chain((0..backups).map(|i| peer(2000 + i, true)))
        .collect();
    let health: Vec<Arc<PeerHealth>> = peers
        .iter()
        .enumerate()
        .map(|(i, p)| Arc::new(PeerHealth::new(i, "u", p.addr, conf.clone())))
        .collect();
    let mut pool = Pool::with_balance("u".into(), peers, balance, None);
    pool.set_health(health.iter().cloned().map(Some).collect(), fail_open);
    (pool, health)
}

fn client(i: u32) -> IpAddr {
    IpAddr::from([10, (i >> 8) as u8, i as u8, 7])
}

/// One request from client `i` (also the hash key): the peer it lands on.
fn one(pool: &Pool, i: u32) -> Option<usize> {
    let mut s = pool.selector(client(i), format!("/k{i}").into_bytes());
    let got = pool.get(&mut s);
    pool.free(&mut s, Outcome::Ok);
    got
}

fn balances() -> Vec<(&'static str, Balance)> {
    vec![
        ("round_robin", Balance::RoundRobin),
        ("least_conn", Balance::LeastConn),
        ("ip_hash", Balance::IpHash),
        (
            "hash",
            Balance::Hash {
                key: crate::vars::Template::compile("$uri").unwrap(),
                consistent: false,
            },
        ),
        (
            "hash consistent",
            Balance::Hash {
                key: crate::vars::Template::compile("$uri").unwrap(),
                consistent: true,
            },
        ),
    ]
}

#[test]
fn every_balancer_skips_check_down_and_502s_when_all_are_down() {
    for (name, b) in balances() {
        let (pool, h) = pool(3, 0, b, false);
        let all: std::collections::HashSet<usize> = (0..300).filter_map(|i| one(&pool, i)).collect();
        assert_eq!(all.len(), 3, "{name}: all peers used while up");
        h[1].set(true, 0, 5);
        for i in 0..300 {
            let got = one(&pool, i);
            assert!(got.is_some() && got != Some(1), "{name}: client {i} got {got:?}");
        }
        for p in &h {
            p.set(true, 0, 5);
        }
        assert_eq!(one(&pool, 1), None, "{name}: no live upstreams");
    }
}

#[test]
fn fail_open_routes_over_all_only_when_every_peer_is_down() {
    for (name, b) in balances() {
        let (pool, h) = pool(3, 0, b, true);
        h[0].set(true, 0, 5);
        for i in 0..50 {
            assert_ne!(one(&pool, i), Some(0), "{name}: one down is still skipped");
        }
        for p in &h {
            p.set(true, 0, 5);
        }
        let used: std::collections::HashSet<usize> = (0..300).filter_map(|i| one(&pool, i)).collect();
        assert_eq!(used.len(), 3, "{name}: fail-open spreads over every peer");
    }
}

#[test]
fn backups_when_primaries_are_check_down() {
    for b in [Balance::RoundRobin, Balance::LeastConn] {
        let (pool, h) = pool(2, 1, b, false);
        assert!(
            (0..10).all(|i| one(&pool, i) != Some(2)),
            "backup idle while primaries are up"
        );
        h[0].set(true, 0, 5);
        h[1].set(true, 0, 5);
        assert!((0..10).all(|i| one(&pool, i) == Some(2)), "backup serves");
        h[2].set(true, 0, 5);
        assert_eq!(one(&pool, 0), None, "checked backup down too: 502");
    }
    // A lone server that is check-down: no live upstreams.
    let (pool, h) = pool(1, 0, Balance::RoundRobin, false);
    assert_eq!(one(&pool, 0), Some(0));
    h[0].set(true, 0, 5);
    assert_eq!(one(&pool, 0), None);
}

#[test]
fn ip_hash_moves_only_the_dead_peers_clients_and_back() {
    let (pool, h) = pool(4, 0, Balance::IpHash, false);
    let map = |p: &Pool| -> Vec<usize> { (0..512).map(|i| one(p, i).unwrap()).collect() };
    let before = map(&pool);
    assert!((0..4).all(|k| before.contains(&k)));
    h[2].set(true, 0, 5);
    let during = map(&pool);
    assert_eq!(during, map(&pool), "the move is deterministic");
    for (i, (b, d)) in before.iter().zip(&during).enumerate() {
        if *b == 2 {
            assert_ne!(*d, 2, "client {i} moved off the dead peer");
        } else {
            assert_eq!(b, d, "client {i} of a live peer never moves");
        }
    }
    h[2].set(false, 2, 0);
    assert_eq!(map(&pool), before, "clients move back on recovery");
}
