//! The two cookies of a protected site: `boxoffice_visitor` (the visitor's
//! place in line, a signed queue token) and `boxoffice_pass` (the admission
//! pass). Both `HttpOnly; Secure; SameSite=Lax` on the whole site, so the
//! proxy's check sees them on every path.

use axum::http::{header, HeaderMap, HeaderValue};

pub(crate) const VISITOR: &str = "boxoffice_visitor";
pub(crate) const PASS: &str = "boxoffice_pass";

/// The first cookie named `name` among every `Cookie` header, if any. A
/// request may carry many cookies and several headers; none of them is
/// parsed beyond splitting on `;` and `=`.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` of `name` = `value`, living `max_age_s`; 0 removes it.
pub(crate) fn set(name: &str, value: &str, max_age_s: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Max-Age={max_age_s}; Path=/; HttpOnly; Secure; SameSite=Lax"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_many_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=; boxoffice_pass=abc.def.ghi; c=3"),
        );
        assert_eq!(read(&headers, PASS), Some("abc.def.ghi"));
        assert_eq!(read(&headers, "x"), None);
        assert_eq!(read(&headers, VISITOR), None);
    }
}
