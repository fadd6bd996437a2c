//! The ranking stage end to end, on real photos indexed with EfficientNet-Lite0: planted copies collapse
//! to one result per group that lists the copies (CLI and engine), pages stay consistent under collapse
//! and diversity, diversity lowers the top 10's mean pairwise similarity and keeps the best result
//! first, and a flag demotion moves a flagged result down by the configured amount.

use crate::common::{index, json, photos_in, run_ok, ukbench, vsearch};
use std::collections::HashSet;
use std::path::Path;
use vsearch_engine::answers::{self, Learning};
use vsearch_engine::ranking::diversity::mean_pairwise_similarity;
use vsearch_engine::{Backend, Collection, ImageId, Query, QueryOptions};
use vsearch_testkit::planted::{plant_copies, COPIES};

/// ukbench-14 with the planted copies of its first photo in `copies/`: indexed, `vsearch dupes` run
/// (which stores the groups the stage collapses by).
fn planted_collection(dir: &Path) {
    std::fs::create_dir_all(dir.join("copies")).expect("mkdir");
    for photo in photos_in(&ukbench()) {
        let name = photo.file_name().expect("name");
        std::fs::copy(&photo, dir.join(name)).expect("copy a photo");
    }
    plant_copies(&ukbench().join("ukbench00000.jpg"), &dir.join("copies"));
    index(dir, &[]);
    run_ok(vsearch().arg("dupes").arg("--collection").arg(dir));
    assert!(
        dir.join(".vsearch").join("copy_groups.json").exists(),
        "vsearch dupes stores the copy groups"
    );
}

fn options(k: usize, offset: usize, collapse: bool, diversity: f32) -> QueryOptions {
    QueryOptions {
        k,
        offset,
        collapse: Some(collapse),
        diversity: Some(diversity),
        ..QueryOptions::default()
    }
}

fn id_of(collection: &Collection, path: &str) -> ImageId {
    let meta = collection
        .images()
        .iter()
        .find(|m| m.path == path)
        .unwrap_or_else(|| panic!("{path} is indexed"));
    ImageId::Number(meta.id)
}

#[test]
fn planted_copies_collapse_to_one_result_per_group() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    planted_collection(&dir);
    let collection = Collection::open_without_model(&dir).expect("open");
    let original = id_of(&collection, "ukbench00000.jpg");
    let copies: HashSet<ImageId> = COPIES
        .iter()
        .map(|c| id_of(&collection, &format!("copies/{c}")))
        .collect();
    let group: HashSet<ImageId> = copies.iter().copied().chain([original]).collect();

    // Without the stage, the copies crowd the top of a search by the original.
    let plain = answers::search(
        &collection,
        &Query::Id(original),
        &options(10, 0, false, 0.0),
        &Learning::default(),
    )
    .expect("search");
    let in_group = plain
        .results
        .iter()
        .filter(|r| group.contains(&r.id))
        .count();
    assert_eq!(
        in_group, 4,
        "retrieval returns the original and its 3 copies"
    );

    // With collapse: one result for the group, the original first, its copies listed.
    let collapsed = answers::search(
        &collection,
        &Query::Id(original),
        &options(10, 0, true, 0.0),
        &Learning::default(),
    )
    .expect("search");
    assert_eq!(collapsed.results.len(), 10);
    assert_eq!(collapsed.results[0].id, original);
    let listed: HashSet<ImageId> = collapsed.results[0].copies.iter().copied().collect();
    assert_eq!(listed, copies, "the original lists its planted copies");
    assert_eq!(
        collapsed
            .results
            .iter()
            .filter(|r| group.contains(&r.id))
            .count(),
        1,
        "one result per duplicate group: {:?}",
        collapsed.results
    );
    let steps = &collapsed.ranking.as_ref().expect("ranking report").steps;
    assert_eq!(steps, &vec!["collapse".to_string()]);
    for r in &collapsed.results {
        assert!(r.original_rank.is_some() && r.original_score.is_some());
    }

    // Pages concatenate to the unpaged list under collapse and diversity.
    for diversity in [0.0, 0.4] {
        let whole = answers::search(
            &collection,
            &Query::Id(original),
            &options(12, 0, true, diversity),
            &Learning::default(),
        )
        .expect("search");
        let mut paged = Vec::new();
        for page in 0..3 {
            let r = answers::search(
                &collection,
                &Query::Id(original),
                &options(4, page * 4, true, diversity),
                &Learning::default(),
            )
            .expect("search");
            assert!(r.more, "more results follow page {page}");
            paged.extend(r.results.into_iter().map(|x| x.id));
        }
        let whole: Vec<ImageId> = whole.results.into_iter().map(|x| x.id).collect();
        // The unpaged list of 12 re-orders a pool of 12 x 5 candidates and the pages a pool of 4 x 5,
        // so compare pages of one size: page n of k=4 against the pool every page of k=4 shares.
        assert_eq!(paged.len(), 12);
        let again: Vec<ImageId> = (0..3)
            .flat_map(|page| {
                answers::search(
                    &collection,
                    &Query::Id(original),
                    &options(4, page * 4, true, diversity),
                    &Learning::default(),
                )
                .expect("search")
                .results
                .into_iter()
                .map(|x| x.id)
            })
            .collect();
        assert_eq!(paged, again, "pages are stable");
        let unique: HashSet<&ImageId> = paged.iter().collect();
        assert_eq!(unique.len(), 12, "no result twice across pages: {paged:?}");
        if diversity == 0.0 {
            assert_eq!(
                paged, whole,
                "collapse alone: pages concatenate to the list"
            );
        }
    }

    // The CLI: --collapse lists the copies.
    let out = run_ok(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(&dir)
            .arg("--id")
            .arg(original.to_string())
            .args(["-k", "5", "--collapse", "--json"]),
    );
    let answer = json(&out);
    assert_eq!(
        answer["results"][0]["copies"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(answer["ranking"]["steps"][0], "collapse");
    let out = run_ok(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(&dir)
            .arg("--id")
            .arg(original.to_string())
            .args(["-k", "5", "--collapse"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(+3 copies: "), "{text}");
    let out = run_ok(
        vsearch()
            .arg("search")
            .arg("--collection")
            .arg(&dir)
            .arg("--id")
            .arg(original.to_string())
            .args(["-k", "5", "--no-collapse", "--json"]),
    );
    assert!(json(&out)["results"][0].get("copies").is_none());

    // The figures of the README (and of `vsearch eval ranking` on this folder).
    let f = vsearch_engine::answers::measure::measure(&collection, 20, 0.3).expect("measure");
    eprintln!("planted copies (ukbench-14 + 3 copies of ukbench00000): {f:?}");
    assert!(f.images_in_groups >= 4, "{f:?}");
    assert!(
        f.without.copy_share > 0.0 && f.collapse_only.copy_share == 0.0,
        "{f:?}"
    );
    assert!(
        f.with.intra_list_similarity < f.without.intra_list_similarity,
        "{f:?}"
    );
}

/// The queries of the diversity test: the first view of each ukbench object.
fn object_queries(collection: &Collection) -> Vec<ImageId> {
    (0..14)
        .map(|o| id_of(collection, &format!("ukbench{:05}.jpg", o * 4)))
        .collect()
}

fn top_similarity(collection: &Collection, ids: &[ImageId]) -> f32 {
    let vectors: Vec<Vec<f32>> = ids
        .iter()
        .map(|id| {
            collection
                .vector(id.number().expect("local id"))
                .expect("vector")
        })
        .collect();
    let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
    mean_pairwise_similarity(&refs)
}

#[test]
fn diversity_spreads_the_top_and_a_flag_demotion_moves_a_result_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for photo in photos_in(&ukbench()) {
        std::fs::copy(&photo, dir.join(photo.file_name().expect("name"))).expect("copy");
    }
    index(&dir, &[]);
    let collection = Collection::open_without_model(&dir).expect("open");

    let (mut before, mut after) = (0.0f32, 0.0f32);
    let queries = object_queries(&collection);
    for &q in &queries {
        let plain = answers::search(
            &collection,
            &Query::Id(q),
            &options(10, 0, false, 0.0),
            &Learning::default(),
        )
        .expect("search");
        let diverse = answers::search(
            &collection,
            &Query::Id(q),
            &options(10, 0, false, 0.5),
            &Learning::default(),
        )
        .expect("search");
        assert_eq!(
            diverse.results[0].id, plain.results[0].id,
            "the best result stays first"
        );
        assert_eq!(diverse.results.len(), 10);
        let ids = |r: &vsearch_engine::SearchResponse| -> Vec<ImageId> {
            r.results.iter().map(|x| x.id).collect()
        };
        before += top_similarity(&collection, &ids(&plain));
        after += top_similarity(&collection, &ids(&diverse));
    }
    let n = queries.len() as f32;
    eprintln!(
        "mean pairwise cosine of the top 10 over {} queries: {:.4} without diversity, {:.4} with 0.5",
        queries.len(),
        before / n,
        after / n
    );
    assert!(after < before, "diversity lowers the top 10's similarity");
    let f = vsearch_engine::answers::measure::measure(&collection, 20, 0.3).expect("measure");
    eprintln!("ukbench-14: {f:?}");
    assert!(
        f.with.intra_list_similarity < f.without.intra_list_similarity,
        "{f:?}"
    );

    // A flag label and a demotion of flagged images by 0.25 (over the top 30, so it stays in view).
    let q = queries[0];
    let plain = answers::search(
        &collection,
        &Query::Id(q),
        &options(30, 0, false, 0.0),
        &Learning::default(),
    )
    .expect("search");
    let target = plain.results[1].clone();
    drop(collection);
    let policy = "[[label]]\nname = \"blur\"\nprompts = [\"a blurry photo\"]\nopposite = [\"a sharp photo\"]\nthreshold = 0.5\naction = \"flag\"\n";
    let mut catalog =
        vsearch_engine::catalog::Catalog::open(&dir.join(".vsearch")).expect("catalog");
    catalog
        .set_labels(
            policy,
            true,
            &[(
                target.id.number().expect("local id"),
                vec![("blur".to_string(), 0.9)],
            )],
        )
        .expect("set labels");
    drop(catalog);
    std::fs::write(
        dir.join(".vsearch").join("ranking.json"),
        r#"{"boosts": {"flagged": -0.25}}"#,
    )
    .expect("write ranking.json");
    let collection = Collection::open_without_model(&dir).expect("open again");
    assert_eq!(
        collection.image_meta(target.id).expect("meta").flags,
        vec!["blur".to_string()]
    );
    let demoted = answers::search(
        &collection,
        &Query::Id(q),
        &options(30, 0, false, 0.0),
        &Learning::default(),
    )
    .expect("search");
    let at = demoted
        .results
        .iter()
        .position(|r| r.id == target.id)
        .expect("the flagged result is still in the top 30");
    let moved = &demoted.results[at];
    assert!(
        (moved.score - (target.score - 0.25)).abs() < 1e-6,
        "{moved:?}"
    );
    assert_eq!(moved.original_score, Some(target.score));
    assert_eq!(moved.original_rank, Some(2));
    assert_eq!(moved.adjustments.len(), 1);
    assert_eq!(moved.adjustments[0].what, "flagged");
    // It moved down below every result that now scores higher, and only those.
    let higher = plain
        .results
        .iter()
        .filter(|r| r.id != target.id && r.score > target.score - 0.25)
        .count();
    assert_eq!(
        at,
        higher,
        "rank {} after {} higher-scoring results",
        at + 1,
        higher
    );
    assert!(at > 1, "the flagged result moved down");
    assert_eq!(
        demoted.ranking.expect("ranking").steps,
        vec!["boosts".to_string()]
    );
}

#[test]
fn recommendations_leave_out_the_board_its_copies_and_blocked_images() {
    use vsearch_engine::answers::{recommend, RecommendOptions};
    use vsearch_engine::blocks::{BlockSource, NewBlock, Reach};
    use vsearch_engine::{Board, Example};

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("photos");
    planted_collection(&dir);
    let collection = Collection::open_without_model(&dir).expect("open");
    // A board of two views of object 0 (the first has planted copies) and one of object 5.
    let pinned = [
        id_of(&collection, "ukbench00000.jpg"),
        id_of(&collection, "ukbench00001.jpg"),
        id_of(&collection, "ukbench00020.jpg"),
    ];
    let copies: Vec<ImageId> = COPIES
        .iter()
        .map(|c| id_of(&collection, &format!("copies/{c}")))
        .collect();
    // Block a view of object 0 the feed would otherwise show first.
    let blocked = id_of(&collection, "ukbench00002.jpg");
    let (_, collection) = collection
        .add_block(NewBlock {
            source: BlockSource::Id(blocked),
            reach: Reach::Example,
            reason: "test".into(),
            by: "ranking test".into(),
        })
        .expect("block");
    let board = Board {
        positive: pinned
            .iter()
            .map(|id| Example::new(Query::Id(*id)))
            .collect(),
        negative: Vec::new(),
    };
    let options = RecommendOptions {
        k: 20,
        ..RecommendOptions::default()
    };
    let cold = || -> vsearch_engine::Result<_> {
        Ok(std::sync::Arc::new(answers::cold_start(&collection)?))
    };
    let feed = recommend(&collection, Some(&board), &options, None, cold).expect("feed");
    assert!(!feed.cold_start);
    assert_eq!(
        feed.clusters, 3,
        "the board and its two groups are searched"
    );
    let ids: Vec<ImageId> = feed.response.results.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 20);
    for id in pinned.iter().chain(&copies).chain([&blocked]) {
        assert!(!ids.contains(id), "{id} is in the feed {ids:?}");
    }
    let unique: HashSet<&ImageId> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // Both things pinned are followed: the other view of object 0 and views of object 5.
    let paths: Vec<&str> = feed.response.results[..6]
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    assert!(paths.contains(&"ukbench00003.jpg"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| ["ukbench00021.jpg", "ukbench00022.jpg", "ukbench00023.jpg"].contains(p)),
        "{paths:?}"
    );

    // Cold start: one representative per cluster, no copies of one picture twice, nothing blocked.
    let feed = recommend(&collection, None, &options, None, cold).expect("cold feed");
    assert!(feed.cold_start);
    let ids: Vec<ImageId> = feed.response.results.iter().map(|r| r.id).collect();
    assert!(!ids.is_empty() && !ids.contains(&blocked));
    let original = id_of(&collection, "ukbench00000.jpg");
    let group: Vec<ImageId> = copies.iter().copied().chain([original]).collect();
    assert!(ids.iter().filter(|id| group.contains(id)).count() <= 1);
    let unique: HashSet<&ImageId> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}
