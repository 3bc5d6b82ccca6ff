//! What is known about a client connection before its first request: the
//! PROXY protocol addresses and the TLS parameters (read by variables, the
//! access log and real_ip).

use std::net::SocketAddr;

/// What a valid PROXY protocol header says (`crate::server::proxy_protocol` decodes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyAddrs {
    /// The original client (`$proxy_protocol_addr`, `$proxy_protocol_port`).
    pub src: SocketAddr,
    /// The address the client connected to (`$proxy_protocol_server_addr`).
    pub dst: SocketAddr,
}

/// What the TLS variables report for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `$ssl_protocol`: `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// `$ssl_cipher`, in OpenSSL's naming as nginx prints it.
    pub cipher: &'static str,
    /// `$ssl_server_name`: the SNI, if the client sent one.
    pub server_name: Option<Box<str>>,
}

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub number: u64,
    /// The client address as `$remote_addr` reports it: the TCP peer, or the
    /// address real_ip took from a trusted header or PROXY header.
    pub peer: SocketAddr,
    /// The TCP peer itself (`$realip_remote_addr`); real_ip decides trust on it.
    pub tcp_peer: SocketAddr,
    /// The PROXY protocol header's addresses, on `listen ... proxy_protocol`.
    pub proxy: Option<ProxyAddrs>,
    /// The TLS facts of an `ssl` connection (`$scheme`, `$https`, `$ssl_*`).
    pub tls: Option<std::sync::Arc<TlsInfo>>,
    /// real_ip already replaced `peer` for this request (it runs once per request).
    pub realip_done: bool,
    pub local: SocketAddr,
    /// Requests served on this connection so far, this one included.
    pub requests: u64,
    /// `$http2`: "h2" (TLS) or "h2c" (cleartext) on an HTTP/2 connection.
    pub http2: Option<&'static str>,
}
