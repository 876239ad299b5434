//! Links from staff emails to the things they are about: GraphiQL on Hive
//! with a query for the item already filled in, or — when `HIVE_APP_URL` is
//! set — the single-page app's own route for it.
//!
//! A GraphiQL link is `{public_url}/graphql?query=…`: a browser opening it
//! gets GraphiQL (see `api::http::graphiql`), which fills its editor from
//! `?query=`; staff add their token in the page (nothing secret is ever in
//! a link). The query asks `node(id:)` for the item, with the fields a
//! person looks at first.

use crate::ids::global_id;

/// Where staff links lead; built once from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    /// `HIVE_PUBLIC_URL`, without a trailing slash.
    pub public_url: &'a str,
    /// `HIVE_APP_URL`: a template with `{type}` (the GraphQL type name) and
    /// `{id}` (the global id), checked at start-up.
    pub app_url: Option<&'a str>,
}

impl<'a> From<&'a crate::Settings> for Links<'a> {
    fn from(settings: &'a crate::Settings) -> Self {
        Self {
            public_url: &settings.public_url,
            app_url: settings.app_url.as_deref(),
        }
    }
}

impl<'a> Links<'a> {
    /// Links into GraphiQL only (no SPA).
    pub fn graphiql(public_url: &'a str) -> Self {
        Self {
            public_url,
            app_url: None,
        }
    }

    /// The link to one object, by its GraphQL type name and row id: the
    /// SPA's route when `HIVE_APP_URL` is set, else GraphiQL with
    /// [`node_query`] filled in.
    pub fn item(&self, type_name: &str, id: i64) -> String {
        let id = global_id(type_name, id);
        match self.app_url {
            Some(template) => app_route(template, type_name, &id),
            None => self.query(&node_query(type_name, &id)),
        }
    }

    /// GraphiQL on Hive with `query` in its editor (for lists, which have no
    /// route of their own in the template).
    pub fn query(&self, query: &str) -> String {
        format!("{}/graphql?query={}", self.public_url, url_encode(query))
    }
}

/// The SPA's route for an object: `template` with `{type}` and `{id}`
/// replaced (each percent-encoded, though type names and global ids are
/// URL-safe already).
pub fn app_route(template: &str, type_name: &str, id: &str) -> String {
    template
        .replace("{type}", &url_encode(type_name))
        .replace("{id}", &url_encode(id))
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What a link shows of an object of `type_name`, beyond `id` and
/// `__typename`: the fields staff look at first. Other types get those two.
fn fields(type_name: &str) -> &'static str {
    match type_name {
        "SupportRequest" => {
            "status\n      kind\n      goals\n      createdAt\n      \
                             organisation {\n        name\n      }"
        }
        "Engagement" => {
            "status\n      proposedAt\n      daysAllocated\n      daysUsed\n      \
                         provider {\n        name\n      }\n      \
                         supportRequest {\n        organisation {\n          name\n        }\n      }"
        }
        "Concern" => "category\n      status\n      details\n      createdAt",
        "Survey" => {
            "title\n      status\n      closesAt\n      invitationCount\n      responseCount"
        }
        "EmailDelivery" => {
            "template\n      recipient\n      status\n      attempts\n      lastError\n      \
             sentAt"
        }
        _ => "",
    }
}

/// The query a GraphiQL link opens with: `node(id:)` for the object, laid
/// out as GraphiQL's prettifier would, so it reads well in the editor.
pub fn node_query(type_name: &str, global_id: &str) -> String {
    let id = serde_json::to_string(global_id).unwrap_or_default();
    let fields = fields(type_name);
    let fragment = if fields.is_empty() {
        String::new()
    } else {
        format!("    ... on {type_name} {{\n      {fields}\n    }}\n")
    };
    format!("{{\n  node(id: {id}) {{\n    id\n    __typename\n{fragment}  }}\n}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://hive.example";

    #[test]
    fn an_item_opens_graphiql_with_a_node_query() {
        let link = Links::graphiql(URL).item("Concern", 7);
        let query = link
            .strip_prefix("https://hive.example/graphql?query=")
            .unwrap();
        let query: String = url::form_urlencoded::parse(format!("q={query}").as_bytes())
            .map(|(_, value)| value.into_owned())
            .collect();
        assert_eq!(
            query,
            "{\n  node(id: \"Q29uY2Vybjo3\") {\n    id\n    __typename\n    ... on Concern {\n      \
             category\n      status\n      details\n      createdAt\n    }\n  }\n}\n"
        );
    }

    #[test]
    fn an_item_opens_the_spa_route_when_hive_app_url_is_set() {
        let links = Links {
            public_url: URL,
            app_url: Some("https://app.example/{type}/{id}?from=digest"),
        };
        assert_eq!(
            links.item("Engagement", 7),
            "https://app.example/Engagement/RW5nYWdlbWVudDo3?from=digest"
        );
        // Lists have no route: GraphiQL on Hive still.
        assert!(
            links
                .query("{ a }")
                .starts_with("https://hive.example/graphql?query=")
        );
    }
}
