//! The opaque ids clients see: `base64url("Type:row")`. Made here, in the
//! crate both the API and the worker use, so the ids in GraphQL and the links
//! in emails cannot drift apart.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The global id of row `id` of GraphQL type `type_name`.
pub fn global_id(type_name: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}"))
}
