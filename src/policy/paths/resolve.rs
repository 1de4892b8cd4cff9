//! THE ONLY I/O IN THE POLICY ENGINE, used only with `resolve_symlinks = true`:
//! where a path leads on the gateway's machine.
//!
//! What must stay true: the walk goes one name at a time from `/`, as the
//! kernel does, and every symbolic link on the way is followed by reading it
//! (`readlink`), whether or not its target exists. A dangling link still says
//! where a write through it lands (`ROOT/new.txt -> /outside/planted.txt`
//! creates `/outside/planted.txt`), so it is followed textually like any
//! other. `..` removes the name before it, which is already resolved, so it
//! is applied physically. A name that does not exist is kept as written and
//! the walk goes on (a later `..` removes it, as realpath-style code does).
//! More than [`MAX_SYMLINK_HOPS`] links (a loop, or a chain built to exhaust
//! the check), or any error other than "does not exist", ends the walk with
//! `None`: the caller refuses.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Linux's limit on links followed in one lookup (MAXSYMLINKS).
pub(super) const MAX_SYMLINK_HOPS: usize = 40;

/// Where `path` (absolute) leads on this machine, or `None` when that cannot
/// be told.
pub(in crate::policy) fn resolve_on_this_machine(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    // Names still to walk, the next one last.
    let mut pending: Vec<OsString> = names(path);
    pending.reverse();
    let mut resolved = PathBuf::from("/");
    let mut hops = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let next = resolved.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                let target = std::fs::read_link(&next).ok()?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                pending.extend(names(&target).into_iter().rev());
            }
            Ok(_) => resolved = next,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => resolved = next,
            Err(_) => return None,
        }
    }
    Some(resolved)
}

/// The names of `path` in order: `.` and the root dropped, `..` kept.
fn names(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root and a directory outside it, both canonical.
    fn sandbox() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let (root, outside) = (base.join("root"), base.join("outside"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        (dir, root, outside)
    }

    #[test]
    fn a_dangling_symlink_resolves_to_where_a_write_through_it_would_land() {
        let (_dir, root, outside) = sandbox();
        symlink(outside.join("planted.txt"), root.join("new.txt")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("new.txt")), Some(outside.join("planted.txt")));
        // The kernel agrees: a write through the link creates the file outside.
        std::fs::write(root.join("new.txt"), "x").unwrap();
        assert!(outside.join("planted.txt").exists());
    }

    #[test]
    fn a_chain_of_relative_links_ending_nowhere_is_followed_to_its_end() {
        let (_dir, root, outside) = sandbox();
        symlink("b", root.join("a")).unwrap();
        symlink("../outside/sub/c", root.join("b")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("a/file")), Some(outside.join("sub/c/file")));
    }

    #[test]
    fn dot_dot_after_a_symlinked_directory_climbs_from_its_target() {
        let (_dir, root, outside) = sandbox();
        std::fs::create_dir_all(outside.join("deep")).unwrap();
        symlink(outside.join("deep"), root.join("link")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("link/../x")), Some(outside.join("x")));
    }

    #[test]
    fn names_that_do_not_exist_are_kept_and_a_later_dot_dot_removes_them() {
        let (_dir, root, outside) = sandbox();
        symlink(&outside, root.join("out")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("missing/new.txt")), Some(root.join("missing/new.txt")));
        assert_eq!(resolve_on_this_machine(&root.join("missing/../out/x")), Some(outside.join("x")));
    }

    #[test]
    fn a_symlink_loop_cannot_be_resolved() {
        let (_dir, root, _) = sandbox();
        symlink("loop-b", root.join("loop-a")).unwrap();
        symlink("loop-a", root.join("loop-b")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("loop-a/x")), None);
        symlink("self", root.join("self")).unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("self")), None);
    }

    #[test]
    fn a_name_below_a_regular_file_cannot_be_resolved() {
        let (_dir, root, _) = sandbox();
        std::fs::write(root.join("file.txt"), "x").unwrap();
        assert_eq!(resolve_on_this_machine(&root.join("file.txt/x")), None);
    }

    #[test]
    fn a_relative_path_is_not_resolved() {
        assert_eq!(resolve_on_this_machine(Path::new("etc/passwd")), None);
    }
}
