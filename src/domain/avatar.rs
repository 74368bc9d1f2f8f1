//! The initials avatar: authentik's offline avatar, an SVG data URI derived from the display
//! name (gatehouse never makes outbound calls, so gravatar is never tried — deviation 7).

use base64::Engine;
use md5::{Digest, Md5};

/// The `data:image/svg+xml;base64,…` URI authentik renders for this user.
pub fn initials_data_uri(name: &str, username: &str) -> String {
    let svg = initials_svg(name, username);
    let mut out = String::with_capacity(26 + svg.len() * 4 / 3 + 4);
    out.push_str("data:image/svg+xml;base64,");
    base64::engine::general_purpose::STANDARD.encode_string(svg.as_bytes(), &mut out);
    out
}

/// The SVG document itself.
pub fn initials_svg(name: &str, username: &str) -> String {
    let text = if !name.trim().is_empty() {
        name.trim()
    } else if !username.trim().is_empty() {
        username.trim()
    } else {
        "a k"
    };
    let initials = initials(text);
    let (r, g, b) = background(text);
    let luminance = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    let fg = if luminance > 186.0 { "000" } else { "fff" };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64px\" height=\"64px\" viewBox=\"0 0 64 64\" version=\"1.1\"><rect fill=\"#{r:02x}{g:02x}{b:02x}\" cx=\"32\" cy=\"32\" width=\"64\" height=\"64\" r=\"32\"/><text x=\"50%\" y=\"50%\" style=\"color: #{fg}; line-height: 1; font-family: 'RedHatText','Overpass',overpass,helvetica,arial,sans-serif; \" fill=\"#{fg}\" alignment-baseline=\"middle\" dominant-baseline=\"middle\" text-anchor=\"middle\" font-size=\"28\" font-weight=\"400\" dy=\".1em\">{}</text></svg>",
        xml_escape(&initials)
    )
}

/// First and last word's initials, or the first two characters of a single word, uppercased.
fn initials(text: &str) -> String {
    let mut parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() > 2 {
        parts = vec![parts[0], parts[parts.len() - 1]];
    }
    let raw: String = match parts.as_slice() {
        [] => String::new(),
        [only] => only.chars().take(2).collect(),
        [init @ .., last] => {
            let mut s: String = init.iter().filter_map(|p| p.chars().next()).collect();
            s.push_str(last);
            s.chars().take(2).collect()
        }
    };
    raw.to_uppercase()
}

/// md5 of the lowercased text, modulo 0xFFFFFF, split into bytes clamped to [55, 200].
fn background(text: &str) -> (u8, u8, u8) {
    let digest = Md5::digest(text.to_lowercase().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    let color = (u128::from_be_bytes(bytes) % 0xFF_FFFF) as u32;
    let clamp = |v: u32| v.clamp(55, 200) as u8;
    (
        clamp((color >> 16) & 0xff),
        clamp((color >> 8) & 0xff),
        clamp(color & 0xff),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_and_text(name: &str, username: &str) -> (String, String) {
        let svg = initials_svg(name, username);
        let fill = svg.split("rect fill=\"").nth(1).unwrap_or("")[..7].to_string();
        let text = svg
            .split("dy=\".1em\">")
            .nth(1)
            .unwrap_or("")
            .split('<')
            .next()
            .unwrap_or("")
            .to_string();
        (fill, text)
    }

    #[test]
    fn matches_authentik_samples() {
        assert_eq!(
            fill_and_text("authentik Default Admin", "akadmin"),
            ("#377b37".into(), "AA".into())
        );
        assert_eq!(
            fill_and_text("Alice Sample", "x"),
            ("#c28db0".into(), "AS".into())
        );
        assert_eq!(fill_and_text("Bob", "x"), ("#c8c837".into(), "BO".into()));
        assert_eq!(
            fill_and_text("Outpost authentik Embedded Outpost Service-Account", "x"),
            ("#404637".into(), "OS".into())
        );
        assert_eq!(
            fill_and_text("", "akadmin"),
            ("#38be91".into(), "AK".into())
        );
        assert_eq!(
            fill_and_text("John Smith", "x"),
            ("#6449a5".into(), "JS".into())
        );
    }

    #[test]
    fn byte_identical_to_recorded_avatar() {
        let recorded = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI2NHB4IiBoZWlnaHQ9IjY0cHgiIHZpZXdCb3g9IjAgMCA2NCA2NCIgdmVyc2lvbj0iMS4xIj48cmVjdCBmaWxsPSIjYzhjODM3IiBjeD0iMzIiIGN5PSIzMiIgd2lkdGg9IjY0IiBoZWlnaHQ9IjY0IiByPSIzMiIvPjx0ZXh0IHg9IjUwJSIgeT0iNTAlIiBzdHlsZT0iY29sb3I6ICNmZmY7IGxpbmUtaGVpZ2h0OiAxOyBmb250LWZhbWlseTogJ1JlZEhhdFRleHQnLCdPdmVycGFzcycsb3ZlcnBhc3MsaGVsdmV0aWNhLGFyaWFsLHNhbnMtc2VyaWY7ICIgZmlsbD0iI2ZmZiIgYWxpZ25tZW50LWJhc2VsaW5lPSJtaWRkbGUiIGRvbWluYW50LWJhc2VsaW5lPSJtaWRkbGUiIHRleHQtYW5jaG9yPSJtaWRkbGUiIGZvbnQtc2l6ZT0iMjgiIGZvbnQtd2VpZ2h0PSI0MDAiIGR5PSIuMWVtIj5CTzwvdGV4dD48L3N2Zz4=";
        assert_eq!(initials_data_uri("Bob", "sample-bob-s1"), recorded);
    }
}
