//! The layout of a SEDA package inside its container: exactly one manifest at the root
//! (`manifest.xml`, or a name ending in `manifest.xml` as Vitam allows) and the files under
//! exactly one `Content/` folder (any case, as Vitam's own samples use `content/`).

use crate::{Entry, EntryKind, Problem};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Path of the manifest member, when there is exactly one.
    pub manifest: Option<String>,
    /// The content folder's name as spelled in the container (`Content`, `content`…).
    pub content_dir: Option<String>,
    /// Paths of the content files, relative to the container root.
    pub files: Vec<String>,
    pub problems: Vec<Problem>,
}

pub fn check(entries: &[Entry]) -> Layout {
    let mut manifests = Vec::new();
    let mut content_dirs: Vec<String> = Vec::new();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let note_dir = |name: &str, dirs: &mut Vec<String>| {
        if !dirs.iter().any(|d| d == name) {
            dirs.push(name.to_owned());
        }
    };
    for e in entries {
        let (top, rest) = match e.path.split_once('/') {
            Some((top, rest)) => (top, Some(rest)),
            None => (e.path.as_str(), None),
        };
        let is_content = top.eq_ignore_ascii_case("content");
        match (e.kind, rest) {
            (EntryKind::File, None) if top.ends_with("manifest.xml") => {
                manifests.push(e.path.clone())
            }
            (EntryKind::Directory, None) if is_content => note_dir(top, &mut content_dirs),
            (_, Some(_)) if is_content => {
                note_dir(top, &mut content_dirs);
                if e.kind == EntryKind::File {
                    files.push(e.path.clone());
                }
            }
            _ => problems.push(Problem {
                code: "UNEXPECTED_ENTRY",
                message: format!(
                    "{:?} is neither the manifest nor inside the Content folder",
                    e.path
                ),
            }),
        }
    }
    if manifests.is_empty() {
        problems.push(Problem {
            code: "NO_MANIFEST",
            message: "no manifest.xml at the root of the container".into(),
        });
    }
    if manifests.len() > 1 {
        problems.push(Problem {
            code: "SEVERAL_MANIFESTS",
            message: format!("several manifests at the root: {}", manifests.join(", ")),
        });
    }
    if content_dirs.len() > 1 {
        problems.push(Problem {
            code: "SEVERAL_CONTENT_FOLDERS",
            message: format!("several content folders: {}", content_dirs.join(", ")),
        });
    }
    Layout {
        manifest: (manifests.len() == 1).then(|| manifests.remove(0)),
        content_dir: (content_dirs.len() == 1).then(|| content_dirs.remove(0)),
        files,
        problems,
    }
}
