//! GraphiQL, for people exploring the API in a browser, served entirely from
//! the binary: the page (`GET /graphql` asking for HTML) and its scripts and
//! styles under `/graphiql/…`, compiled in from `api/assets/graphiql/` (a
//! pinned GraphiQL 4.1.2 with React 18.3.1; that folder's README says where
//! each file comes from and `update.sh` fetches them again with their
//! integrity checked). Nothing comes from a CDN, so GraphiQL works on a
//! machine without internet, and the page where staff paste session tokens
//! runs only these scripts: its Content-Security-Policy allows scripts,
//! styles and requests from Hive's own origin alone, and no inline script.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// The page's policy (CSP Level 3): scripts, styles and fetches only from
/// Hive's origin (`'self'`), no inline script or `eval`; fonts and the few
/// images in GraphiQL's stylesheet are `data:` URLs inside it; no forms post
/// anywhere and no other site may frame the page.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                          img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                          base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long a browser may keep an asset: a year (31,536,000 s, RFC 9111
/// `max-age`) and `immutable` (RFC 8246). The page names each with a
/// fingerprint of their content (`?v=`), so a new build's page asks for new
/// URLs.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// One file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// One of `api/assets/graphiql/`, compiled in.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every file the page loads, in the order the page loads them (React before
/// GraphiQL's UMD build, which reads `window.React` and `window.ReactDOM`;
/// Hive's own script last).
const ASSETS: [Asset; 6] = [
    asset!("graphiql.min.css", CSS),
    asset!("hive.css", CSS),
    asset!("react.production.min.js", JS),
    asset!("react-dom.production.min.js", JS),
    asset!("graphiql.min.js", JS),
    asset!("hive.js", JS),
];

/// The first 12 hex digits of the SHA-256 of every asset: changes whenever
/// any of them does, so cached copies are never used with a newer page.
static FINGERPRINT: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in &ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update(asset.bytes);
    }
    hex::encode(hash.finalize())[..12].to_string()
});

/// The page: a bar for a session token and GraphiQL below it. Asset URLs
/// are relative (`graphiql/…` from `/graphql`), so the page also works
/// behind a proxy that serves Hive under a path.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let v = FINGERPRINT.as_str();
    let mut head = String::new();
    let mut scripts = String::new();
    for asset in &ASSETS {
        if asset.name.ends_with(".css") {
            head.push_str(&format!(
                "<link rel=\"stylesheet\" href=\"graphiql/{}?v={v}\">\n",
                asset.name
            ));
        } else {
            scripts.push_str(&format!(
                "<script src=\"graphiql/{}?v={v}\"></script>\n",
                asset.name
            ));
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Hive · GraphiQL</title>\n{head}</head>\n<body>\n\
         <form id=\"hive-token\"><label for=\"hive-token-value\">Session token</label>\
         <input id=\"hive-token-value\" type=\"password\" autocomplete=\"off\" \
         placeholder=\"paste a token to send it as Authorization: Bearer\">\
         <button type=\"submit\">Use</button></form>\n\
         <div id=\"graphiql\">Loading GraphiQL…</div>\n{scripts}</body>\n</html>\n"
    )
});

/// `GET /graphql` for a browser: the GraphiQL page, under [`POLICY`]. Its
/// script reads `?query=`, `?variables=`, `?operationName=` and `?token=`
/// (see `api/assets/graphiql/hive.js`); the page itself is the same for
/// every URL.
pub fn page() -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        )],
        Html(PAGE.as_str()),
    )
        .into_response()
}

/// `GET /graphiql/{file}`: one of the page's files, cacheable for a year
/// (any `?v=` is accepted: the fingerprint only makes the URL new). Not
/// charged to the anonymous allowance: the files are in memory and cost no
/// more than `/healthz`. An unknown name is the usual 404 page.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return super::page::not_found().await.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE)),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_asset_from_hive_with_no_inline_script() {
        for asset in &ASSETS {
            assert!(PAGE.contains(&format!("graphiql/{}?v=", asset.name)));
        }
        assert_eq!(PAGE.matches("<script").count(), 4);
        assert_eq!(
            PAGE.matches("<script src=\"graphiql/").count(),
            4,
            "every script is a file of ours: {}",
            *PAGE
        );
        assert!(!PAGE.contains("http"), "no absolute URL: {}", *PAGE);
    }
}
