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
