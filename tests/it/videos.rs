//! Videos: `vsearch index` finds MP4, MOV, MKV and WebM files by content and indexes frames sampled from
//! them, each a result naming its video and time; a search by the still a video was made from finds the
//! video at that time, its frames folded into one result; a corrupt or truncated video is reported and
//! skipped with the photos indexed; without ffmpeg the videos wait for the next run and the photos index;
//! a deleted video leaves every index; the server serves a frame's video with Range requests.
//!
//! The videos are tests/fixtures/video/ (scripts/make_video_fixtures.sh): 6 s each, ukbench photo P for
//! 3 s then photo Q for 3 s; with a frame every 2 s, frames at 0 and 2 s show P and the frame at 4 s Q.

use crate::common::{index, json, run_ok, serve, ukbench, vsearch, MODEL};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Each fixture video and the ukbench photos it shows: (file, first photo, second photo).
const VIDEOS: &[(&str, &str, &str)] = &[
    ("objects_0_1.mp4", "ukbench00000.jpg", "ukbench00004.jpg"),
    ("objects_2_3.webm", "ukbench00008.jpg", "ukbench00012.jpg"),
    ("objects_4_5.mov", "ukbench00016.jpg", "ukbench00020.jpg"),
    ("objects_6_7.mkv", "ukbench00024.jpg", "ukbench00028.jpg"),
];

/// Photos beside the videos (objects the videos do not show).
const PHOTOS: &[&str] = &["ukbench00040.jpg", "ukbench00044.jpg"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/video")
}

/// A folder with the four videos, the corrupt and the truncated one, and two photos.
fn folder(tmp: &Path) -> PathBuf {
    let dir = tmp.join("library");
    std::fs::create_dir_all(dir.join("clips")).expect("mkdir");
    for (video, _, _) in VIDEOS {
        std::fs::copy(fixtures().join(video), dir.join("clips").join(video)).expect("copy");
    }
    for bad in ["corrupt.mp4", "truncated.mp4"] {
        std::fs::copy(fixtures().join(bad), dir.join(bad)).expect("copy");
    }
    for photo in PHOTOS {
        std::fs::copy(ukbench().join(photo), dir.join(photo)).expect("copy");
    }
    dir
}

/// `vsearch index DIR --json` with a frame every 2 s: the run's report.
fn index_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "--video-frames-every", "2s"];
    args.extend_from_slice(extra);
    json(&index(dir, &args))
}

/// `vsearch search --json` by the image file `image` on `kind`, with `extra` arguments.
fn search_by(dir: &Path, image: &Path, kind: &str, extra: &[&str]) -> Value {
    json(&run_ok(
        vsearch()
            .args(["search", "--collection"])
            .arg(dir)
            .arg("--image")
            .arg(image)
            .args(["--json", "--index", kind, "-k", "8"])
            .args(extra),
    ))
}

fn results(answer: &Value) -> &Vec<Value> {
    answer["results"].as_array().expect("results")
}

/// The failed paths' file names and reasons of a run's report.
fn failures(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().expect("path"));
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, f["reason"].as_str().expect("reason").to_string())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn frames_are_indexed_with_their_times_and_a_still_finds_its_video_at_its_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = folder(tmp.path());
    let report = index_json(&dir, &[]);
    // 4 videos of 3 frames (0, 2 and 4 s) and 2 photos; the corrupt and the truncated video reported.
    assert_eq!(report["videos"], 4, "{report:#}");
    assert_eq!(report["indexed"], 14, "{report:#}");
    let failed = failures(&report);
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["corrupt.mp4", "truncated.mp4"], "{report:#}");
    for (name, reason) in &failed {
        assert!(
            reason.starts_with("not a readable video"),
            "{name}: {reason}"
        );
    }

    // Every frame is listed with its video, its time and its video's container.
    let server = serve(&dir, None);
    let client = reqwest::blocking::Client::new();
    let page: Value = client
        .get(format!("{}/api/images?limit=60", server.base))
        .send()
        .and_then(|r| r.json())
        .expect("browse");
    let mut frames: Vec<(String, String, f64, String)> = page["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter(|i| !i["video"].is_null())
        .map(|i| {
            (
                i["video"]["path"].as_str().expect("video path").to_string(),
                i["path"].as_str().expect("path").to_string(),
                i["video"]["seconds"].as_f64().expect("seconds"),
                i["format"].as_str().expect("format").to_string(),
            )
        })
        .collect();
    frames.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected = Vec::new();
    for (video, _, _) in VIDEOS {
        let format = video.rsplit_once('.').map_or("", |(_, ext)| ext);
        for t in [0, 2, 4] {
            expected.push((
                format!("clips/{video}"),
                format!("clips/{video}#t={t}"),
                f64::from(t),
                format.to_string(),
            ));
        }
    }
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(frames, expected);
    // Each frame has a thumbnail (kept at index time: the server does not decode videos).
    let frame_id = page["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["path"] == "clips/objects_0_1.mp4#t=4")
        .and_then(|i| i["id"].as_u64())
        .expect("the frame at 4 s");
    let thumb = client
        .get(format!("{}/api/images/{frame_id}/thumbnail", server.base))
        .send()
        .expect("thumbnail");
    assert_eq!(thumb.status(), 200);
    let thumb = image::load_from_memory(&thumb.bytes().expect("bytes")).expect("a JPEG");
    assert_eq!((thumb.width(), thumb.height()), (256, 192));
    drop(server);

    // The still a video shows in its second half finds that video first, at 4 s, on every index; the
    // video is one result, its other frames listed under it.
    for kind in ["flat", "hnsw", "ivf"] {
        for (video, first, second) in VIDEOS {
            let answer = search_by(&dir, &ukbench().join(second), kind, &[]);
            let top = &results(&answer)[0];
            assert_eq!(
                top["video"]["path"],
                format!("clips/{video}"),
                "{kind}: {answer:#}"
            );
            assert_eq!(top["video"]["seconds"], 4.0, "{kind}: {answer:#}");
            assert_eq!(top["path"], format!("clips/{video}#t=4"), "{kind}");
            let mut others: Vec<f64> = top["frames"]
                .as_array()
                .expect("the other frames")
                .iter()
                .map(|f| f["seconds"].as_f64().expect("seconds"))
                .collect();
            others.sort_by(f64::total_cmp);
            assert_eq!(others, [0.0, 2.0], "{kind}: {answer:#}");
            let of_video = results(&answer)
                .iter()
                .filter(|r| r["video"]["path"] == format!("clips/{video}"))
                .count();
            assert_eq!(of_video, 1, "one result per video: {answer:#}");
            let ranks: Vec<u64> = results(&answer)
                .iter()
                .map(|r| r["rank"].as_u64().expect("rank"))
                .collect();
            assert_eq!(ranks, (1..=ranks.len() as u64).collect::<Vec<_>>());
            // The first half's still finds a frame of the first half.
            let answer = search_by(&dir, &ukbench().join(first), kind, &[]);
            let top = &results(&answer)[0];
            assert_eq!(
                top["video"]["path"],
                format!("clips/{video}"),
                "{kind}: {answer:#}"
            );
            let t = top["video"]["seconds"].as_f64().expect("seconds");
            assert!(t < 3.0, "{kind}: {video} at {t} s");
        }
    }

    // Filters tell frames from photos: `video` is absent for a photo, `format` is the container's.
    let photo = ukbench().join(PHOTOS[0]);
    let only_photos = search_by(
        &dir,
        &photo,
        "flat",
        &["--filter", r#"{"must": [{"is_empty": {"key": "video"}}]}"#],
    );
    let paths: Vec<&str> = results(&only_photos)
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths, PHOTOS, "{only_photos:#}");
    let webm = search_by(
        &dir,
        &photo,
        "flat",
        &[
            "--filter",
            r#"{"must": [{"key": "format", "match": {"value": "webm"}}]}"#,
        ],
    );
    assert_eq!(results(&webm).len(), 1, "{webm:#}");
    assert_eq!(results(&webm)[0]["video"]["path"], "clips/objects_2_3.webm");
    let one_video = search_by(
        &dir,
        &photo,
        "flat",
        &[
            "--filter",
            r#"{"must": [{"key": "video", "match": {"value": "clips/objects_4_5.mov"}}]}"#,
        ],
    );
    assert_eq!(results(&one_video).len(), 1, "{one_video:#}");
    assert_eq!(
        results(&one_video)[0]["frames"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn changed_and_deleted_videos_update_every_index() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = folder(tmp.path());
    index_json(&dir, &[]);
    let ids = |dir: &Path| -> Vec<(String, u64)> {
        let out = run_ok(
            vsearch()
                .args(["search", "--collection"])
                .arg(dir)
                .args(["--json", "--index", "flat", "-k", "100", "--filter"])
                .arg(r#"{"must_not": [{"is_empty": {"key": "video"}}]}"#)
                .arg("--image")
                .arg(ukbench().join(PHOTOS[0])),
        );
        let answer = json(&out);
        let mut ids = Vec::new();
        for r in results(&answer) {
            ids.push((
                r["path"].as_str().expect("path").to_string(),
                r["id"].as_u64().expect("id"),
            ));
            let video = r["video"]["path"].as_str().expect("video");
            for f in r["frames"].as_array().into_iter().flatten() {
                let t = f["seconds"].as_f64().expect("seconds");
                ids.push((format!("{video}#t={t}"), f["id"].as_u64().expect("id")));
            }
        }
        ids.sort();
        ids
    };
    let before = ids(&dir);
    assert_eq!(before.len(), 12, "{before:?}");

    // Unchanged: nothing is sampled again.
    let again = index_json(&dir, &[]);
    assert_eq!(
        (again["videos"].as_u64(), again["embedded"].as_u64()),
        (Some(0), Some(0))
    );

    // A changed video (the MOV now holds the MP4's pictures) is sampled again: its frames keep their ids
    // (same times), and the MP4's second still now finds it at 4 s too.
    let mov = dir.join("clips/objects_4_5.mov");
    std::fs::copy(fixtures().join("objects_0_1.mp4"), &mov).expect("replace the MOV");
    let report = index_json(&dir, &[]);
    assert_eq!(
        (report["videos"].as_u64(), report["updated"].as_u64()),
        (Some(1), Some(3)),
        "{report:#}"
    );
    assert_eq!(ids(&dir), before, "a changed video's frames keep their ids");
    let answer = search_by(&dir, &ukbench().join("ukbench00004.jpg"), "hnsw", &[]);
    let videos: Vec<&str> = results(&answer)
        .iter()
        .take(2)
        .map(|r| r["video"]["path"].as_str().unwrap_or(""))
        .collect();
    assert!(videos.contains(&"clips/objects_4_5.mov"), "{answer:#}");

    // A deleted video leaves every index; the collection checks clean.
    std::fs::remove_file(dir.join("clips/objects_0_1.mp4")).expect("delete");
    let report = index_json(&dir, &[]);
    assert_eq!(report["removed"], 3, "{report:#}");
    for kind in ["flat", "hnsw", "ivf"] {
        let answer = search_by(&dir, &ukbench().join("ukbench00004.jpg"), kind, &[]);
        assert!(
            results(&answer)
                .iter()
                .all(|r| r["video"]["path"] != "clips/objects_0_1.mp4"),
            "{kind}: {answer:#}"
        );
    }
    let after = ids(&dir);
    assert_eq!(after.len(), 9, "{after:?}");
    assert!(after.iter().all(|(p, _)| !p.contains("objects_0_1.mp4")));
    let check = crate::common::check_report(&dir);
    assert_eq!(check["problems"], serde_json::json!([]), "{check:#}");
    assert_eq!(check["ok"], 11, "9 frames and 2 photos: {check:#}");

    // Without videos, the frames go and the photos stay.
    let report = index_json(&dir, &["--no-videos"]);
    assert_eq!(report["removed"], 9, "{report:#}");
    assert_eq!(ids(&dir), Vec::<(String, u64)>::new());
}

#[test]
fn without_ffmpeg_the_photos_index_and_the_videos_wait_for_the_next_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = folder(tmp.path());
    // A PATH with no ffmpeg on it.
    let empty = tmp.path().join("no-tools");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = run_ok(
        vsearch()
            .arg("index")
            .arg(&dir)
            .args(["--model", MODEL, "--json"])
            .env("PATH", &empty),
    );
    let report = json(&out);
    assert_eq!(report["indexed"], 2, "the photos: {report:#}");
    let failed = failures(&report);
    assert_eq!(failed.len(), 6, "{report:#}");
    for (name, reason) in &failed {
        assert!(
            reason.contains("ffprobe is not installed")
                && reason.contains("scripts/install_system_deps.sh"),
            "{name}: {reason}"
        );
    }
    // Nothing was written for the videos: with ffmpeg, the next run indexes them.
    let report = index_json(&dir, &[]);
    assert_eq!(report["videos"], 4, "{report:#}");
    assert_eq!(report["indexed"], 12, "{report:#}");
    assert_eq!(failures(&report).len(), 2, "{report:#}");
}

#[test]
fn the_server_serves_a_frames_video_with_range_requests() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = folder(tmp.path());
    index_json(&dir, &[]);
    let server = serve(&dir, None);
    let client = reqwest::blocking::Client::new();
    let page: Value = client
        .get(format!("{}/api/images?limit=60", server.base))
        .send()
        .and_then(|r| r.json())
        .expect("browse");
    let frame = page["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["path"] == "clips/objects_2_3.webm#t=2")
        .cloned()
        .expect("the WebM's frame at 2 s");
    let id = frame["id"].as_u64().expect("id");
    let file = std::fs::read(dir.join("clips/objects_2_3.webm")).expect("read the video");

    let part = client
        .get(format!("{}/api/images/{id}", server.base))
        .header("Range", "bytes=100-299")
        .send()
        .expect("range request");
    assert_eq!(part.status(), 206);
    let header = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header(&part, "content-type"), "video/webm");
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 100-299/{}", file.len())
    );
    assert_eq!(part.bytes().expect("bytes").as_ref(), &file[100..300]);

    let whole = client
        .get(format!("{}/api/images/{id}", server.base))
        .send()
        .expect("whole video");
    assert_eq!(whole.status(), 200);
    assert_eq!(header(&whole, "accept-ranges"), "bytes");
    assert_eq!(whole.bytes().expect("bytes").as_ref(), file.as_slice());

    let past = client
        .get(format!("{}/api/images/{id}", server.base))
        .header("Range", format!("bytes={}-", file.len() + 10))
        .send()
        .expect("range past the end");
    assert_eq!(past.status(), 416);

    // A photo is still served whole, as before.
    let photo = page["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["path"] == PHOTOS[0])
        .and_then(|i| i["id"].as_u64())
        .expect("a photo");
    let served = client
        .get(format!("{}/api/images/{photo}", server.base))
        .send()
        .expect("photo");
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "content-type"), "image/jpeg");
}
