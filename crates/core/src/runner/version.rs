//! Which GitLab Runner version a runner is, when neither `--runner-version` nor the gate's
//! config says: the runner image's tag in its Deployment or StatefulSet, the Helm values'
//! `image` (`image.tag`, or the whole `image:` string of older charts), then the chart
//! version. What needs a runner has depends on its version, so a runner pinned at 17.6 must
//! not be judged against the newest release's needs.

use crate::model::Loc;

/// A version read from the inputs, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionHint {
    pub version: (u32, u32),
    /// What it was read from, for messages: "the image tag `alpine-v17.6.0`".
    pub what: String,
    pub loc: Loc,
}

/// Whether `image` (`registry/path:tag@digest`) is the runner itself (not its helper).
pub fn is_runner_image(image: &str) -> bool {
    let repo = repository(image);
    repo.ends_with("gitlab-runner") || repo.ends_with("gitlab-runner-ocp")
}

/// `registry/path` of an image reference, without tag and digest.
fn repository(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    match name.rsplit_once(':') {
        // A `:` followed by a `/` is a registry port, not a tag.
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}

/// The tag of an image reference, if it has one.
pub fn tag(image: &str) -> Option<&str> {
    let name = image.split('@').next().unwrap_or(image);
    name.rsplit_once(':')
        .map(|(_, tag)| tag)
        .filter(|t| !t.contains('/') && !t.is_empty())
}

/// The runner version a tag names: `alpine-v17.6.0`, `v18.0.2`, `ubuntu-v16.11.1`,
/// `alpine3.19-v17.6.0`, `17.6.0`. `latest`, `bleeding`, `alpine` name none.
pub fn of_tag(tag: &str) -> Option<(u32, u32)> {
    let candidates = tag
        .match_indices('v')
        .map(|(i, _)| &tag[i + 1..])
        .chain(std::iter::once(tag));
    for rest in candidates {
        let mut parts = rest.split(['.', '-', '_']);
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) {
            // Runner releases start at 1.0; a date-like or huge number is no version.
            if (1..100).contains(&major) && minor < 100 {
                return Some((major, minor));
            }
        }
    }
    None
}

/// Runner versions of the gitlab-runner chart's releases: chart `0.N.x` ships runner
/// (major, minor) as its `appVersion`. The chart's release commits read "Update Chart version
/// to vX and used GitLab Runner version to vY" (gitlab-org/charts/gitlab-runner); known
/// pairs: 0.2.0 = 11.8.0, 0.6.0 = 12.0.0, 0.24.0 = 13.7.0, 0.31.0 = 14.1.0, 0.46.1 =
/// 15.5.1, 0.59.0 = 16.6.0, 0.60.0 = 16.7.0, 0.70.3 = 17.5.3, 0.86.0 = 18.9.0 (the chart
/// vendored in /work/shared/reference/gitlab-runner-rbac.md, CH86). Each chart minor is the
/// next runner minor: (first chart minor of a runner major, major, its first and last runner
/// minor covered by the chart).
const CHART_MAJORS: &[(u32, u32, u32, u32)] = &[
    (0, 11, 6, 11),
    (6, 12, 0, 10),
    (17, 13, 0, 12),
    (30, 14, 0, 10),
    (41, 15, 0, 11),
    (53, 16, 0, 11),
    (65, 17, 0, 11),
    (77, 18, 0, 11),
    (89, 19, 0, u32::MAX),
];

/// The runner (major, minor) the gitlab-runner chart `version` (`0.71.0`, `v0.86.1`) ships;
/// `None` for a range, the 0.1.x series (no appVersion) or a version outside the table.
pub fn of_chart(version: &str) -> Option<(u32, u32)> {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split('.');
    let (zero, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
    let (zero, minor): (u32, u32) = (zero.parse().ok()?, minor.parse().ok()?);
    if zero != 0 || minor < 2 || !patch.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let &(first, major, from, last) = CHART_MAJORS.iter().rev().find(|e| e.0 <= minor)?;
    let runner_minor = from + (minor - first);
    (runner_minor <= last).then_some((major, runner_minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_the_runner_images() {
        for (tag, version) in [
            ("alpine-v17.6.0", Some((17, 6))),
            ("v18.0.2", Some((18, 0))),
            ("ubuntu-v16.11.1", Some((16, 11))),
            ("alpine3.19-v17.6.0", Some((17, 6))),
            ("17.6.0", Some((17, 6))),
            ("v19.3.0-rc1", Some((19, 3))),
            ("latest", None),
            ("alpine", None),
            ("bleeding", None),
        ] {
            assert_eq!(of_tag(tag), version, "{tag}");
        }
        assert_eq!(tag("registry.example:5000/gitlab-runner"), None);
        assert_eq!(
            tag("registry.gitlab.com/gitlab-org/gitlab-runner:v18.0.2@sha256:abc"),
            Some("v18.0.2")
        );
        assert!(is_runner_image("gitlab/gitlab-runner:alpine-v17.6.0"));
        assert!(is_runner_image("registry.example:5000/gitlab-runner"));
        assert!(!is_runner_image(
            "gitlab/gitlab-runner-helper:x86_64-v17.6.0"
        ));
    }

    #[test]
    fn chart_versions_map_to_their_app_version() {
        // The published pairs the table is built from.
        for (chart, runner) in [
            ("0.2.0", (11, 8)),
            ("0.5.2", (11, 11)),
            ("0.6.0", (12, 0)),
            ("0.14.0", (12, 8)),
            ("0.24.0", (13, 7)),
            ("0.27.0", (13, 10)),
            ("0.31.0", (14, 1)),
            ("0.46.1", (15, 5)),
            ("0.59.0", (16, 6)),
            ("0.60.0", (16, 7)),
            ("0.70.3", (17, 5)),
            ("0.71.0", (17, 6)),
            ("v0.86.0", (18, 9)),
            ("0.92.0", (19, 3)),
        ] {
            assert_eq!(of_chart(chart), Some(runner), "{chart}");
        }
        for range in ["~0.86", "0.86.x", ">=0.80.0", "1.0.0", "0.1.44"] {
            assert_eq!(of_chart(range), None, "{range}");
        }
    }
}
