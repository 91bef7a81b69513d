//! Which of a protected site's requests need a pass: those under one of the
//! protection's patterns, less the site's static files.

use crate::queue::settings::Protect;

/// Paths under a guarded pattern that pass anyway: the site's static files.
const STATIC_SUFFIXES: [&str; 14] = [
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".woff", ".woff2", ".ttf",
];

/// Whether `path` needs a pass: under one of the protection's patterns, and
/// not a static file. Allocates nothing: it runs on every check.
pub(crate) fn guarded(protect: &Protect, path: &str) -> bool {
    let bytes = path.as_bytes();
    let is_static = STATIC_SUFFIXES.iter().any(|suffix| {
        bytes.len() >= suffix.len() && bytes[bytes.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    });
    !is_static && protect.paths.iter().any(|pattern| matches(pattern, path))
}

/// `*` matches any run of characters (`/` included); the rest literally.
fn matches(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.strip_prefix(first) else {
        return false;
    };
    let mut parts = parts.peekable();
    if parts.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            // `find` answers a character boundary, and `part` ends on one.
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protect(paths: &[&str]) -> Protect {
        serde_json::from_value(serde_json::json!({ "origin": "https://shop.example", "paths": paths })).unwrap()
    }
    #[test]
    fn patterns_guard_what_they_name_and_static_files_pass() {
        let checkout = protect(&["/checkout/*", "/cart"]);
        assert!(guarded(&checkout, "/checkout/pay"));
        assert!(guarded(&checkout, "/checkout/a/b"));
        assert!(guarded(&checkout, "/cart"));
        assert!(!guarded(&checkout, "/cart/x"));
        assert!(!guarded(&checkout, "/"));
        assert!(!guarded(&checkout, "/checkout/app.JS"));
        let everything = protect(&["/*"]);
        assert!(guarded(&everything, "/"));
        assert!(matches("/a/*/c*", "/a/b/c.html"));
        assert!(!matches("/a/*/c", "/a/b/d"));
        assert!(matches("/*", "/é/ü"));
        assert!(!guarded(&everything, "/é.CSS"));
    }
}
