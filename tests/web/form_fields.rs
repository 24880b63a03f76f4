//! The owner's property and member forms (docs/api.md §15): a key or a
//! member id with a control character at either end (a tab, a line break,
//! NEL) is refused on the page, naming the field, as the API refuses it,
//! rather than accepted with the character trimmed away; plain spaces
//! around what was typed are still trimmed.

use crate::helpers::{WebApp, ALICE};

#[tokio::test]
async fn a_key_or_member_id_with_a_control_character_at_either_end_is_refused_and_changes_nothing()
{
    let app = WebApp::spawn().await;
    let alice = app.login(ALICE.0).await;
    let id = app.api_upload(ALICE, "debian", b"data", false).await;
    let before = app.api_detail(ALICE, &id).await;
    let page_path = format!("/ui/images/{id}");
    for c in ['\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{1c}'] {
        for typed in [format!("{c}os"), format!("os{c}"), format!(" os{c} ")] {
            let fields = [("key", typed.as_str()), ("value", "debian")];
            let said = "Invalid property key";
            refused(&app, &alice, &page_path, ("properties", &fields), said).await;
            let member = typed.replace("os", "bob");
            let fields = [("member", member.as_str())];
            refused(
                &app,
                &alice,
                &page_path,
                ("members", &fields),
                "Invalid member id",
            )
            .await;
        }
        assert_eq!(app.api_detail(ALICE, &id).await, before, "{c:?}");
        assert!(app.api_members(ALICE, &id).await.is_empty(), "{c:?}");
    }
    // Plain spaces around a key or a member id are trimmed, as before.
    let fields = [("key", "  os "), ("value", "debian")];
    let done = app
        .post(&alice, &format!("{page_path}/properties"), &fields)
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = app.api_detail(ALICE, &id).await.unwrap();
    assert_eq!(after["properties"], serde_json::json!({"os": "debian"}));
    let done = app
        .post(
            &alice,
            &format!("{page_path}/members"),
            &[("member", " bob  ")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(app.api_members(ALICE, &id).await, ["bob"]);
}

/// Posts `fields` to the image page's `form` and checks the answer: back
/// to the page, which says `said` (naming the field) with the character
/// not echoed.
async fn refused(
    app: &WebApp,
    alice: &crate::helpers::Session,
    page_path: &str,
    (form, fields): (&str, &[(&str, &str)]),
    said: &str,
) {
    let done = app
        .post(alice, &format!("{page_path}/{form}"), fields)
        .await;
    assert_eq!(done.status, 303, "{form} {fields:?}: {}", done.body);
    let page = app.page(alice, page_path).await;
    assert!(
        page.body.contains(said),
        "{form} {fields:?}: not refused: {}",
        page.body
    );
}
