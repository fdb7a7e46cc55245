//! List queries (RFC 7644 §3.4.2): parameters parsed from untrusted text into a typed query.
