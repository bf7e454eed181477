//! The package-index data model and its formats: names, PEP 503 HTML and PEP 691 JSON
//! (render and parse), Warehouse's JSON API, and the XML-RPC codec.

pub mod error;
pub mod filename;
pub(crate) mod json_in;
pub mod jsonapi;
pub mod model;
pub mod names;
pub mod simple_html;
pub mod simple_json;
pub mod versions;
pub mod xmlrpc;

pub use error::IndexError;
pub use model::*;
pub use names::{is_valid_name, normalize, normalize_cow};
