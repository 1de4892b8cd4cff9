//! Which upstream serves a resource URI or template on the aggregated
//! endpoint, learned from the upstreams' own listings. Bounded: an upstream
//! that lists without end cannot grow a session's memory, and each listing
//! replaces what the same upstream listed before.
//!
//! A URI two upstreams both list has no single owner and routes nowhere:
//! picking one would let either server answer for the other.

use std::collections::HashMap;

/// URIs remembered per session, across all upstreams.
const MAX_URIS: usize = 10_000;
/// Templates remembered per session, across all upstreams.
const MAX_TEMPLATES: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    One(usize),
    Several,
}

/// Where a URI routes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    To(usize),
    /// Listed by more than one upstream.
    Ambiguous,
    Unknown,
}

#[derive(Default)]
pub struct ResourceRoutes {
    /// URI -> who lists it, and each upstream's URIs (to replace them).
    uris: HashMap<String, Owner>,
    listed: HashMap<usize, Vec<String>>,
    /// (template, its literal prefix, upstream).
    templates: Vec<(String, String, usize)>,
}

impl ResourceRoutes {
    /// Replaces the URIs `upstream` listed before with `uris`.
    pub fn learn_resources<'a>(&mut self, upstream: usize, uris: impl IntoIterator<Item = &'a str>) {
        for old in self.listed.remove(&upstream).unwrap_or_default() {
            self.forget(&old, upstream);
        }
        let mut mine = Vec::new();
        for uri in uris {
            if self.uris.len() >= MAX_URIS {
                tracing::warn!("more than {MAX_URIS} resources listed in one session; the rest route by template only");
                break;
            }
            let owner = match self.uris.get(uri) {
                Some(Owner::One(u)) if *u != upstream => Owner::Several,
                Some(Owner::Several) => Owner::Several,
                _ => Owner::One(upstream),
            };
            self.uris.insert(uri.to_string(), owner);
            mine.push(uri.to_string());
        }
        self.listed.insert(upstream, mine);
    }

    /// Replaces the templates `upstream` listed before with `templates`.
    pub fn learn_templates<'a>(&mut self, upstream: usize, templates: impl IntoIterator<Item = &'a str>) {
        self.templates.retain(|(_, _, u)| *u != upstream);
        for template in templates {
            if self.templates.len() >= MAX_TEMPLATES {
                tracing::warn!(
                    "more than {MAX_TEMPLATES} resource templates listed in one session; the rest are ignored"
                );
                break;
            }
            let prefix = template.split('{').next().unwrap_or_default().to_string();
            self.templates.push((template.to_string(), prefix, upstream));
        }
    }

    /// A listed URI, else a listed template with exactly this text (a
    /// completion names one), else the template with the longest non-empty
    /// literal prefix of `uri`; two upstreams tied at any step route nowhere.
    pub fn route(&self, uri: &str) -> Route {
        match self.uris.get(uri) {
            Some(Owner::One(upstream)) => return Route::To(*upstream),
            Some(Owner::Several) => return Route::Ambiguous,
            None => {}
        }
        let exact: Vec<usize> = self.templates.iter().filter(|(t, _, _)| t == uri).map(|(_, _, u)| *u).collect();
        if let Some(route) = single(&exact) {
            return route;
        }
        let longest = self
            .templates
            .iter()
            .filter(|(_, prefix, _)| !prefix.is_empty() && uri.starts_with(prefix.as_str()))
            .map(|(_, prefix, _)| prefix.len())
            .max();
        let Some(longest) = longest else { return Route::Unknown };
        let owners: Vec<usize> = self
            .templates
            .iter()
            .filter(|(_, prefix, _)| prefix.len() == longest && uri.starts_with(prefix.as_str()))
            .map(|(_, _, u)| *u)
            .collect();
        single(&owners).unwrap_or(Route::Unknown)
    }

    fn forget(&mut self, uri: &str, upstream: usize) {
        if self.uris.get(uri) == Some(&Owner::One(upstream)) {
            self.uris.remove(uri);
        }
        // A URI several upstreams listed stays ambiguous until the session
        // ends: who else listed it is not kept, and guessing is not safe.
    }
}

/// The one upstream in `owners` (duplicates aside), if there is exactly one.
fn single(owners: &[usize]) -> Option<Route> {
    let first = *owners.first()?;
    if owners.iter().all(|&u| u == first) {
        Some(Route::To(first))
    } else {
        Some(Route::Ambiguous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_two_upstreams_list_routes_to_neither() {
        let mut routes = ResourceRoutes::default();
        routes.learn_resources(0, ["internal://credentials", "internal://handbook"]);
        routes.learn_resources(1, ["internal://credentials"]);
        assert_eq!(routes.route("internal://credentials"), Route::Ambiguous);
        assert_eq!(routes.route("internal://handbook"), Route::To(0));
        // Listing again does not make the first upstream its owner again.
        routes.learn_resources(0, ["internal://credentials"]);
        assert_eq!(routes.route("internal://credentials"), Route::Ambiguous);
    }

    #[test]
    fn a_new_listing_replaces_what_the_same_upstream_listed_before() {
        let mut routes = ResourceRoutes::default();
        routes.learn_resources(0, ["a://1", "a://2"]);
        routes.learn_resources(0, ["a://3"]);
        assert_eq!(routes.route("a://1"), Route::Unknown);
        assert_eq!(routes.route("a://3"), Route::To(0));
    }

    #[test]
    fn an_endless_listing_is_cut_at_the_cap() {
        let mut routes = ResourceRoutes::default();
        let many: Vec<String> = (0..MAX_URIS + 50).map(|i| format!("a://{i}")).collect();
        routes.learn_resources(0, many.iter().map(String::as_str));
        assert_eq!(routes.uris.len(), MAX_URIS);
        let templates: Vec<String> = (0..MAX_TEMPLATES + 5).map(|i| format!("t{i}://{{x}}")).collect();
        routes.learn_templates(1, templates.iter().map(String::as_str));
        assert_eq!(routes.templates.len(), MAX_TEMPLATES);
    }

    #[test]
    fn templates_route_by_their_text_then_by_the_longest_literal_prefix() {
        let mut routes = ResourceRoutes::default();
        routes.learn_templates(0, ["demo://resource/dynamic/text/{id}"]);
        routes.learn_templates(1, ["demo://resource/{kind}", "{anything}"]);
        assert_eq!(routes.route("demo://resource/dynamic/text/{id}"), Route::To(0));
        assert_eq!(routes.route("demo://resource/dynamic/text/7"), Route::To(0));
        assert_eq!(routes.route("demo://resource/static/x"), Route::To(1));
        assert_eq!(routes.route("other://x"), Route::Unknown, "an empty prefix claims nothing");
    }
}
