//! Thumbnails kept beside the collection: an index run makes one per content from the decode it makes for
//! the model (a phone photo's at 1/8 scale), the server answers from them without reading the image, a
//! copy shares its original's, and a run that removes the last image with that content removes its
//! thumbnail.

use crate::common::{index, photos_in, serve, ukbench};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The kept thumbnail files under the collection of `dir` (`thumbnails/ab/HASH.jpg`).
fn kept(dir: &Path) -> BTreeSet<PathBuf> {
    let Ok(shards) = std::fs::read_dir(dir.join(".vsearch/thumbnails")) else {
        return BTreeSet::new();
    };
    shards
        .flatten()
        .flat_map(|shard| std::fs::read_dir(shard.path()).expect("a shard folder"))
        .flatten()
        .map(|file| file.path())
        .collect()
}

#[test]
fn index_runs_keep_thumbnails_that_the_server_answers_from() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let photos = photos_in(&ukbench());
    for p in &photos[..5] {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy");
    }
    // A phone-sized photo (4032 x 3024, its thumbnail made from a 1/8 decode) and a byte copy of a photo.
    let big = image::open(&photos[5])
        .expect("a ukbench photo")
        .resize_exact(4032, 3024, image::imageops::FilterType::Triangle);
    big.save(dir.join("phone.jpg"))
        .expect("write the phone-sized photo");
    std::fs::copy(&photos[0], dir.join("copy.jpg")).expect("copy");
    index(&dir, &[]);

    // One thumbnail per content: 6 contents in 7 files.
    let thumbnails = kept(&dir);
    assert_eq!(thumbnails.len(), 6, "{thumbnails:#?}");
    let mut sides = Vec::new();
    for path in &thumbnails {
        let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(img.width().max(img.height()) <= 256, "{}", path.display());
        sides.push((img.width(), img.height()));
    }
    assert!(
        sides.contains(&(256, 192)),
        "the phone photo's thumbnail: {sides:?}"
    );

    // The server answers with the kept files: the image itself is not read (it is made unreadable).
    let server = serve(&dir, None);
    let client = reqwest::blocking::Client::new();
    let page: serde_json::Value = client
        .get(format!("{}/api/images?limit=60", server.base))
        .send()
        .and_then(|r| r.json())
        .expect("browse");
    let images = page["images"].as_array().expect("images");
    assert_eq!(images.len(), 7);
    let kept_bytes: Vec<Vec<u8>> = thumbnails
        .iter()
        .map(|p| std::fs::read(p).expect("read a thumbnail"))
        .collect();
    assert!(
        images.iter().any(|i| i["path"] == "phone.jpg"),
        "{images:#?}"
    );
    std::fs::write(dir.join("phone.jpg"), b"no longer an image").expect("spoil the photo");
    for image in images {
        let id = image["id"].as_u64().expect("id");
        let response = client
            .get(format!("{}/api/images/{id}/thumbnail", server.base))
            .send()
            .expect("thumbnail");
        assert_eq!(response.status(), 200, "{image}");
        let body = response.bytes().expect("body").to_vec();
        assert!(
            kept_bytes.contains(&body),
            "image {id}: not a kept thumbnail"
        );
    }
    drop(server);

    // Removing the original keeps the content's thumbnail (the copy still has it); removing the copy too
    // removes it, and the spoiled photo's goes when its file no longer decodes.
    let first = photos[0].file_name().expect("name");
    std::fs::remove_file(dir.join(first)).expect("remove the original");
    index(&dir, &[]);
    assert_eq!(
        kept(&dir).len(),
        5,
        "the spoiled photo's thumbnail went; the copy's stays"
    );
    std::fs::remove_file(dir.join("copy.jpg")).expect("remove the copy");
    index(&dir, &[]);
    assert_eq!(kept(&dir).len(), 4);
}
