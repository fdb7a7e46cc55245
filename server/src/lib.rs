//! A self-hostable SCIM 2.0 service provider (RFC 7643, RFC 7644).
//!
//! Layers, kept apart: [`scim`] is the protocol as pure functions; [`store`] is storage behind one
//! trait; [`http`] is Rocket (routes, guards, responders, catchers). [`error::Error`] is the one
//! error type, mapped to SCIM error responses in `http::respond`.

pub mod error;
pub mod scim;
pub mod store;
pub mod config;
pub mod keys;
pub mod service;
