//! The bordereau d'élimination as a PDF: what a person signs, by hand or in a signature
//! workflow (the parapheurs of French administrations take PDF). The same content as the
//! HTML page: the elimination, its totals, every unit proposed, every unit left out with
//! why, and the two signature boxes.
//!
//! `pdf-writer` writes the objects; the text is set in Helvetica, one of the fonts every PDF
//! reader carries, so nothing is embedded and the file stays small (about 60 bytes a unit,
//! compressed). Helvetica's widths are written here because no well-kept crate gives the
//! standard fonts' metrics without embedding a font: cells are cut to their column with
//! them.

use super::*;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const PAGE_WIDTH: f32 = 842.0; // A4, landscape
const PAGE_HEIGHT: f32 = 595.0;
const MARGIN: f32 = 36.0;
const SIZE: f32 = 8.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Columns of the units proposed: heading and width in points (770 in all).
const PROPOSED: [(&str, f32); 8] = [
    ("Identifiant", 185.0),
    ("Intitulé", 205.0),
    ("Dates extrêmes", 95.0),
    ("Service producteur", 80.0),
    ("Règle de DUA", 65.0),
    ("Échéance", 50.0),
    ("Fichiers", 40.0),
    ("Octets", 50.0),
];
const EXCLUDED: [(&str, f32); 3] = [
    ("Identifiant", 185.0),
    ("Intitulé", 215.0),
    ("Motif", 370.0),
];

/// What the page holds, in order; laid out in pages by height.
enum Item<'a> {
    Title(&'a str),
    Field(&'a str, String),
    Heading(&'a str),
    Head(&'static [(&'static str, f32)]),
    Row(&'static [(&'static str, f32)], Vec<String>),
    Signatures,
}

impl Item<'_> {
    fn height(&self) -> f32 {
        match self {
            Item::Title(_) => 26.0,
            Item::Field(..) => 12.0,
            Item::Heading(_) => 24.0,
            Item::Head(_) => 14.0,
            Item::Row(..) => 11.0,
            Item::Signatures => 120.0,
        }
    }
}

/// The bordereau as a PDF, the same as its page.
pub(super) fn bordereau_pdf(b: &Bordereau<'_>) -> Vec<u8> {
    let &Bordereau {
        archive,
        tenant,
        id,
        at,
        producer,
        proposed,
        excluded,
        totals,
    } = b;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let title = format!("Bordereau d\u{2019}élimination {id}");
    let mut items = vec![
        Item::Title("Bordereau d\u{2019}élimination"),
        Item::Field("Service d\u{2019}archives", archive.to_owned()),
        Item::Field("Service producteur", producer.to_owned()),
        Item::Field("Tenant", tenant.to_string()),
        Item::Field("Référence", id.to_string()),
        Item::Field("Éligibilité au", at.to_owned()),
        Item::Field(
            "Unités proposées",
            format!(
                "{} (fichiers\u{a0}: {}, octets\u{a0}: {})",
                french_number(&totals["units"]),
                french_number(&totals["objects"]),
                french_number(&totals["bytes"])
            ),
        ),
        Item::Heading("Unités proposées à l\u{2019}élimination"),
        Item::Head(&PROPOSED),
    ];
    for u in proposed {
        let r = &u.record;
        let rules: Vec<String> = r["appraisal_rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["rule"].as_str().map(str::to_owned))
            .collect();
        items.push(Item::Row(
            &PROPOSED,
            vec![
                u.unit.clone(),
                s(&r["title"]),
                format!("{} – {}", s(&r["start_date"]), s(&r["end_date"])),
                s(&r["originating_agency"]),
                rules.join(", "),
                s(&r["appraisal_end"]),
                french_number(&r["objects"]),
                french_number(&r["bytes"]),
            ],
        ));
    }
    if !excluded.is_empty() {
        items.push(Item::Heading("Unités écartées"));
        items.push(Item::Head(&EXCLUDED));
        for u in excluded {
            items.push(Item::Row(
                &EXCLUDED,
                vec![
                    u.unit.clone(),
                    s(&u.record["title"]),
                    reason_fr(u.reason.as_ref()),
                ],
            ));
        }
    }
    items.push(Item::Heading("Visas"));
    items.push(Item::Signatures);

    // Pages: a table cut by a page goes on with its heading row.
    let bottom = MARGIN + 14.0; // the footer's line
    let mut pages: Vec<Vec<&Item<'_>>> = vec![Vec::new()];
    let mut y = PAGE_HEIGHT - MARGIN;
    let mut head: Option<&Item<'_>> = None;
    for item in &items {
        match item {
            Item::Head(_) => head = Some(item),
            Item::Heading(_) | Item::Signatures => head = None,
            _ => {}
        }
        // A heading stays with what follows it.
        let needs = item.height()
            + match item {
                Item::Heading(_) => 14.0 + 11.0,
                _ => 0.0,
            };
        if y - needs < bottom {
            pages.push(Vec::new());
            y = PAGE_HEIGHT - MARGIN;
            if let (Item::Row(..), Some(h)) = (item, head) {
                pages.last_mut().expect("a page").push(h);
                y -= h.height();
            }
        }
        pages.last_mut().expect("a page").push(item);
        y -= item.height();
    }

    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&title))
        .creator(TextStr("Carnac"));
    let total = pages.len();
    for (n, (page, page_id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(page_id.get() + 1);
        let mut c = Content::new();
        let mut y = PAGE_HEIGHT - MARGIN;
        for item in page {
            y -= item.height();
            draw(&mut c, item, y);
        }
        text(
            &mut c,
            REGULAR,
            7.0,
            MARGIN,
            MARGIN,
            &format!("{title} \u{2014} page {} sur {total}", n + 1),
        );
        let raw = c.finish();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let packed = std::io::Write::write_all(&mut z, &raw)
            .and_then(|()| z.finish())
            .unwrap_or_default();
        let mut p = pdf.page(*page_id);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(content_id);
        p.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        p.finish();
        pdf.stream(content_id, &packed).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

/// A count as French writes it: `1 234 567`, groups split by no-break spaces.
pub(super) fn french_number(v: &serde_json::Value) -> String {
    let Some(n) = v.as_u64() else {
        return v.as_str().unwrap_or_default().to_owned();
    };
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(d);
    }
    out
}

fn draw(c: &mut Content, item: &Item<'_>, y: f32) {
    match item {
        Item::Title(t) => text(c, BOLD, 16.0, MARGIN, y + 6.0, t),
        Item::Field(label, value) => {
            text(c, BOLD, 9.0, MARGIN, y + 3.0, label);
            text(c, REGULAR, 9.0, MARGIN + 130.0, y + 3.0, value);
        }
        Item::Heading(h) => text(c, BOLD, 11.0, MARGIN, y + 6.0, h),
        Item::Head(columns) => {
            let mut x = MARGIN;
            for (name, width) in *columns {
                text(c, BOLD, SIZE, x + 2.0, y + 4.0, name);
                x += width;
            }
            rule(c, y + 1.0, 0.8);
        }
        Item::Row(columns, cells) => {
            let mut x = MARGIN;
            for ((_, width), cell) in columns.iter().zip(cells) {
                text(
                    c,
                    REGULAR,
                    SIZE,
                    x + 2.0,
                    y + 3.0,
                    &fit(cell, width - 4.0, SIZE),
                );
                x += width;
            }
            rule(c, y + 0.5, 0.3);
        }
        Item::Signatures => {
            let width = (PAGE_WIDTH - 2.0 * MARGIN - 20.0) / 2.0;
            for (i, who) in [
                "Service producteur (accord)",
                "Autorité de contrôle (visa, Code du patrimoine R212-14)",
            ]
            .iter()
            .enumerate()
            {
                let x = MARGIN + i as f32 * (width + 20.0);
                text(c, BOLD, 9.0, x + 4.0, y + 104.0, who);
                text(
                    c,
                    REGULAR,
                    9.0,
                    x + 4.0,
                    y + 90.0,
                    "Date, nom, qualité, signature",
                );
                c.set_line_width(0.8)
                    .rect(x, y + 4.0, width, 112.0)
                    .stroke();
            }
        }
    }
}

fn text(c: &mut Content, font: Name<'_>, size: f32, x: f32, y: f32, s: &str) {
    c.begin_text()
        .set_font(font, size)
        .next_line(x, y)
        .show(Str(&win_ansi(s)))
        .end_text();
}

fn rule(c: &mut Content, y: f32, width: f32) {
    c.set_line_width(width)
        .move_to(MARGIN, y)
        .line_to(PAGE_WIDTH - MARGIN, y)
        .stroke();
}

/// `s` cut to `width` points in Helvetica at `size`, with an ellipsis if it was cut.
fn fit(s: &str, width: f32, size: f32) -> String {
    let em = |c: char| helvetica_width(c) as f32 * size / 1000.0;
    if s.chars().map(em).sum::<f32>() <= width {
        return s.to_owned();
    }
    let room = width - em('\u{2026}');
    let mut used = 0.0;
    let mut out = String::new();
    for ch in s.chars() {
        used += em(ch);
        if used > room {
            break;
        }
        out.push(ch);
    }
    out.push('\u{2026}');
    out
}

/// `s` in WinAnsiEncoding (PDF 32000-1, annex D): Latin-1, the typographic quotes, dashes,
/// ellipsis, euro and œ; what it cannot hold becomes `?`, control characters a space.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{202f}' | '\u{2009}' => 0xa0, // French thin no-break spaces
            '\u{20ac}' => 0x80,
            '\u{201a}' => 0x82,
            '\u{201e}' => 0x84,
            '\u{2026}' => 0x85,
            '\u{2030}' => 0x89,
            '\u{2039}' => 0x8b,
            '\u{0152}' => 0x8c,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            '\u{2122}' => 0x99,
            '\u{203a}' => 0x9b,
            '\u{0153}' => 0x9c,
            '\u{0178}' => 0x9f,
            c if c.is_control() => b' ',
            _ => b'?',
        })
        .collect()
}

/// Helvetica's advance widths (thousandths of an em), from Adobe's Core 14 AFM metrics:
/// ASCII, and the letters of Latin-1 by the letter they accent (Helvetica gives an accented
/// letter the width of its base).
fn helvetica_width(c: char) -> u16 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
        278, // ' '../
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
        556, // 0..?
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
        778, // @..O
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
        556, // P.._
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
        556, // `..o
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
    ];
    let base = |b: char| ASCII[b as usize - 0x20];
    match c {
        '\u{20}'..='\u{7e}' => ASCII[c as usize - 0x20],
        'À'..='Å' => base('A'),
        'Æ' => 1000,
        'Ç' => base('C'),
        'È'..='Ë' => base('E'),
        'Ì'..='Ï' | 'ì'..='ï' => 278,
        'Ð' => 722,
        'Ñ' => base('N'),
        'Ò'..='Ö' | 'Ø' => base('O'),
        'Ù'..='Ü' => base('U'),
        'Ý' | 'Ÿ' => base('Y'),
        'Þ' => 667,
        'ß' => 611,
        'à'..='å' => base('a'),
        'æ' => 889,
        'ç' => base('c'),
        'è'..='ë' => base('e'),
        'ð' | 'ñ' | 'ò'..='ö' | 'ù'..='ü' | 'þ' => 556,
        'ø' => 611,
        'ý' | 'ÿ' => base('y'),
        'Œ' | '…' | '—' | '™' => 1000,
        'œ' => 944,
        '\u{a0}' | '\u{202f}' | '\u{2009}' => 278,
        '×' | '÷' | '¬' | '±' => 584,
        '‘' | '’' | '‚' => 222,
        '“' | '”' | '„' => 333,
        '«' | '»' | '–' | '€' | '§' | '¤' | '£' | '¥' | '¢' => 556,
        '°' => 400,
        '•' => 350,
        '©' | '®' => 737,
        _ => 556,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_encoded_for_helvetica() {
        assert_eq!(
            win_ansi("Élimination d’« œuvres »\u{202f}: 5 €…"),
            b"\xc9limination d\x92\xab \x9cuvres \xbb\xa0: 5 \x80\x85"
        );
        assert_eq!(win_ansi("漢\u{1}"), b"? ");
    }

    #[test]
    fn counts_are_written_in_french() {
        let n = |v: u64| french_number(&serde_json::json!(v));
        assert_eq!(n(0), "0");
        assert_eq!(n(999), "999");
        assert_eq!(n(1_000), "1\u{a0}000");
        assert_eq!(n(1_234_567), "1\u{a0}234\u{a0}567");
    }

    #[test]
    fn cells_are_cut_to_their_column_with_an_ellipsis() {
        // "Wi" is 944 + 222 thousandths: 9.3 points at 8 points.
        assert_eq!(fit("Wi", 9.4, 8.0), "Wi");
        let cut = fit("Délibérations du conseil municipal de 2019", 60.0, 8.0);
        assert!(
            cut.ends_with('…') && cut.starts_with("Délibérations"),
            "{cut}"
        );
        let width: f32 = cut
            .chars()
            .map(|c| helvetica_width(c) as f32 * 8.0 / 1000.0)
            .sum();
        assert!(width <= 60.0, "{width}");
        assert_eq!(helvetica_width('é'), helvetica_width('e'));
        assert_eq!(helvetica_width('M'), 833);
    }
}
