//! The moderation page (DESIGN §13): one HTML page embedded in the binary, whose
//! inline script drives the API itself with a title token kept in the tab's
//! sessionStorage. Its Content-Security-Policy allows exactly that script and style.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The page, with its script and style inline.
const PAGE: &str = include_str!("admin/index.html");

/// Computed once from the embedded page, so an edit of the page can never serve a
/// script the policy does not name.
static POLICY: LazyLock<String> = LazyLock::new(|| content_security_policy(PAGE));

/// `GET /admin/`
pub async fn moderation_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(PAGE)
}

/// `GET /admin`: the page lives at `/admin/` (relative, so a path prefix of a proxy
/// in front is kept).
pub async fn to_moderation_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "admin/"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Nothing but the page's own script and style; API calls and file previews to
/// this origin only; images only from the `blob:` URLs the script makes of bytes it
/// checked; no frames, forms, plugins or base URL.
fn content_security_policy(page: &str) -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src blob:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        source_hash(inline(page, "script")),
        source_hash(inline(page, "style")),
    )
}

/// The text of the first `<tag>…</tag>` of `page`, as the browser hashes it.
fn inline<'a>(page: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = page.find(&open)? + open.len();
    let len = page[start..].find(&format!("</{tag}>"))?;
    Some(&page[start..start + len])
}

/// `'sha256-…'` of an inline block; `'none'` when there is none.
fn source_hash(text: Option<&str>) -> String {
    match text {
        Some(text) => format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text))),
        None => "'none'".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_hash_of_the_one_inline_script_and_style() {
        assert_eq!(PAGE.matches("<script").count(), 1, "one script element");
        assert_eq!(PAGE.matches("<style").count(), 1, "one style element");
        let script = inline(PAGE, "script").expect("an inline script");
        assert!(script.contains("sessionStorage"));
        let hash = STANDARD.encode(Sha256::digest(script));
        assert!(
            POLICY.contains(&format!("script-src 'sha256-{hash}';")),
            "{}",
            *POLICY
        );
        assert!(!POLICY.contains("unsafe"), "{}", *POLICY);
        assert!(
            !POLICY.contains("'none'; style"),
            "the style is found: {}",
            *POLICY
        );
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_never_writes_html() {
        for outside in [
            "src=",
            "href=",
            "@import",
            "url(",
            "localStorage",
            "document.cookie",
        ] {
            assert!(!PAGE.contains(outside), "the page contains {outside}");
        }
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!PAGE.contains(sink), "the page uses {sink}");
        }
    }

    #[test]
    fn a_page_without_a_script_gets_none() {
        let policy = content_security_policy("<p>hi</p>");
        assert!(policy.contains("script-src 'none';"), "{policy}");
    }
}
