//! nginx.conf's syntax: `lexer` (`ngx_conf_read_token`'s rules: quotes,
//! escapes, comments, `${var}`), `parser` (statements → a directive tree,
//! `include` expanded in place), `directives` (the table: contexts, argument
//! counts, and whether rampart maps, ignores with a warning, or does not
//! implement each directive yet) and `values` (argument parsers with nginx's
//! wording). The tree → model mapping is `crate::model::nginx`.

pub mod directives;
pub mod lexer;
pub mod parser;
pub mod values;
