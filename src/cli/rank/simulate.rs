//! `vsearch rank simulate`: the re-ranker measured on simulated users of a ukbench collection.
//!
//! The photos are `ukbenchNNNNN.jpg`, four of each object (object = NNNNN / 4). The objects split in
//! two: every `--hold-out-every`-th object is held out. A simulated user looking for an object of the
//! training part searches by a part of one of its photos (a random crop of 40-60% of each side, as the
//! page's crop tool sends it: a board of one example with a crop; 10 results, cosine order), looks down
//! the answer and opens the photos of the object with a position bias and some noise ([`ClickModel`]);
//! each session is recorded through the analytics recorder the server uses, with the features of what
//! was shown. The re-ranker is trained on all of that log (`vsearch rank train`'s training), then
//! `--eval-crops` crops of every photo of the held-out objects, never searched during training, are
//! queries: NDCG@10 and MRR of
//! its object's four photos, in the cosine order and re-ranked. (Whole photos as queries leave nothing
//! to learn: Lite0 ranks all three other photos of an object first for every ukbench-14 photo.)

use anyhow::Context;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vsearch_engine::analytics::{
    now_ms, Action, ActionEvent, AnalyticsConfig, Event, Recorder, SearchDraft, ShownFeatures,
};
use vsearch_engine::answers::{self, Learning};
use vsearch_engine::rerank::{
    train, ClickModel, Evaluation, RankingFigures, Reranker, TrainOutcome, MIN_POSITIVES,
};
use vsearch_engine::{
    Backend, BackendOptions, Board, Crop, Example, ImageId, Query, QueryOptions, SearchResponse,
};

/// Results a simulated user is shown.
const SHOWN: usize = 10;

#[derive(clap::Args)]
pub struct Args {
    /// A collection of ukbench photos (ukbenchNNNNN.jpg, four per object), indexed by `vsearch index`.
    #[arg(long, default_value = ".")]
    collection: PathBuf,
    /// Records folder for the simulated analytics and the model trained on them (default: a temporary
    /// folder, deleted after; the collection's own analytics are never touched).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Times each photo of the training objects is searched by a simulated user.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Every Nth object (0, N, 2N, ...) is held out: its photos are the evaluation queries.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..))]
    hold_out_every: u64,
    /// The click model: position `p` is looked at with probability 1/p^BIAS.
    #[arg(long, default_value_t = ClickModel::default().position_bias)]
    position_bias: f32,
    /// The click model: probability of opening a photo of the object looked for, once looked at.
    #[arg(long, default_value_t = ClickModel::default().open_relevant)]
    open_relevant: f32,
    /// The click model: probability of opening any other result, once looked at.
    #[arg(long, default_value_t = ClickModel::default().noise)]
    noise: f32,
    /// Crops of each held-out photo to query by (each a different random part of it).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    eval_crops: u64,
    /// Seed of the simulated users' choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// What a simulation measured.
#[derive(Debug, Serialize)]
struct Simulation {
    training_objects: usize,
    held_out_objects: usize,
    sessions: usize,
    opens: usize,
    /// `rank train`'s outcome on the whole simulated log.
    training: TrainOutcome,
    /// The held-out objects' photos as queries: the truth is the object, not the clicks.
    held_out_queries: Evaluation,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let backend = vsearch_engine::open_backend(&BackendOptions::Local {
        path: args.collection.clone(),
        device: Default::default(),
        load_model: true,
    })
    .with_context(|| {
        format!(
            "cannot open the collection at {}",
            args.collection.display()
        )
    })?;
    let images = objects(backend.as_ref())?;
    let temp;
    let state = match &args.state {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("cannot make a temporary records folder")?;
            temp.path().to_path_buf()
        }
    };
    let clicks = ClickModel {
        position_bias: args.position_bias,
        open_relevant: args.open_relevant,
        noise: args.noise,
    };
    let held = |object: u64| object.is_multiple_of(args.hold_out_every);
    let (sessions, opens) = record_sessions(
        backend.as_ref(),
        &state,
        &images,
        &clicks,
        &args,
        |object| !held(object),
    )?;
    // Every simulated search trains: the evaluation queries (the held-out objects) were never searched.
    let training = train::train_split_by(&state, MIN_POSITIVES, |_| false)?;
    let reranker = Reranker::load(Some(&state));
    let queries: Vec<&(ImageId, u64)> = images.iter().filter(|(_, o)| held(*o)).collect();
    let mut by_cosine = Vec::new();
    let mut by_model = Vec::new();
    // The held-out crops: from their own seed, never drawn in training.
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x005e_ed0f_f5e7_u64);
    for &&(photo, object) in &queries {
        let total = images.iter().filter(|(_, o)| *o == object).count();
        for _ in 0..args.eval_crops {
            let query = crop_query(photo, &mut rng);
            for (reranker, lists) in [
                (&Reranker::off("the cosine order"), &mut by_cosine),
                (&reranker, &mut by_model),
            ] {
                let answer = search(backend.as_ref(), reranker, &query)?;
                lists.push((relevance(&answer, object, &images), total));
            }
        }
    }
    let simulation = Simulation {
        training_objects: count_objects(&images, |o| !held(o)),
        held_out_objects: count_objects(&images, held),
        sessions,
        opens,
        training,
        held_out_queries: Evaluation {
            searches: by_cosine.len(),
            cosine: RankingFigures::of(by_cosine.iter().map(|(r, t)| (r.as_slice(), *t))),
            model: RankingFigures::of(by_model.iter().map(|(r, t)| (r.as_slice(), *t))),
        },
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&simulation)?);
    } else {
        print(&simulation, reranker.model().is_some());
    }
    Ok(())
}

fn print(s: &Simulation, trained: bool) {
    println!(
        "{} simulated sessions over {} training objects ({} opens)",
        s.sessions, s.training_objects, s.opens
    );
    match &s.training {
        TrainOutcome::Trained { model, .. } => println!(
            "trained re-ranker v{} on {} results ({} opened)",
            model.version, model.examples, model.positives
        ),
        TrainOutcome::TooLittleData {
            positives, needed, ..
        } => println!(
            "not enough data: {positives} opened results, {needed} needed; the re-ranker stays off"
        ),
    }
    let e = &s.held_out_queries;
    println!(
        "held-out queries ({} crops of the photos of {} objects never searched in training):",
        e.searches, s.held_out_objects
    );
    println!("  cosine order: {}", super::figures(&e.cosine));
    if trained {
        println!("  re-ranked:    {}", super::figures(&e.model));
    }
}

/// The collection's images and their objects (ukbenchNNNNN: NNNNN / 4).
fn objects(backend: &dyn Backend) -> anyhow::Result<Vec<(ImageId, u64)>> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let page = backend.browse(offset, 1000, None)?;
        for meta in &page.images {
            let number = meta
                .name
                .strip_prefix("ukbench")
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
                .with_context(|| {
                    format!(
                        "{} is not a ukbench photo (ukbenchNNNNN.jpg): `rank simulate` needs a collection of ukbench photos",
                        meta.path
                    )
                })?;
            let id = meta.point.map_or(ImageId::Number(meta.id), ImageId::Uuid);
            out.push((id, number / 4));
        }
        offset += page.images.len();
        if page.images.is_empty() || offset >= page.total {
            break;
        }
    }
    out.sort_by_key(|(id, object)| (*object, id.to_string()));
    anyhow::ensure!(
        !out.is_empty(),
        "the collection holds no images: index the ukbench photos with `vsearch index DIR`"
    );
    Ok(out)
}

fn count_objects(images: &[(ImageId, u64)], keep: impl Fn(u64) -> bool) -> usize {
    let mut objects: Vec<u64> = images
        .iter()
        .map(|(_, o)| *o)
        .filter(|o| keep(*o))
        .collect();
    objects.dedup();
    objects.len()
}

/// A query by a random part (40-60% of each side) of `photo`.
fn crop_query(photo: ImageId, rng: &mut impl Rng) -> Query {
    let (w, h) = (rng.gen_range(0.4..=0.6f32), rng.gen_range(0.4..=0.6f32));
    let crop = Crop {
        x: rng.gen_range(0.0..=1.0 - w),
        y: rng.gen_range(0.0..=1.0 - h),
        w,
        h,
    };
    Query::Board(Board {
        positive: vec![Example {
            query: Query::Id(photo),
            weight: 1.0,
            crop: Some(crop),
        }],
        negative: Vec::new(),
    })
}

/// Whether each result of `answer` is a photo of `object`.
fn relevance(answer: &SearchResponse, object: u64, images: &[(ImageId, u64)]) -> Vec<bool> {
    answer
        .results
        .iter()
        .map(|r| images.iter().any(|(id, o)| *id == r.id && *o == object))
        .collect()
}

/// The first [`SHOWN`] results of `query` through the ranking stage, re-scored by `reranker` when it is
/// on, with the features of what is shown.
fn search(
    backend: &dyn Backend,
    reranker: &Reranker,
    query: &Query,
) -> anyhow::Result<SearchResponse> {
    let options = QueryOptions {
        k: SHOWN,
        ..QueryOptions::default()
    };
    let rescorer = reranker.rescorer();
    let learning = Learning {
        rescorer: rescorer.as_deref(),
        keep_features: true,
    };
    Ok(answers::search(backend, query, &options, &learning)?)
}

/// Records `rounds` sessions of every photo of the objects `train_on` keeps into `state`'s analytics:
/// the search (with its features) and what the simulated user opened. (sessions, opens).
fn record_sessions(
    backend: &dyn Backend,
    state: &Path,
    images: &[(ImageId, u64)],
    clicks: &ClickModel,
    args: &Args,
    train_on: impl Fn(u64) -> bool,
) -> anyhow::Result<(usize, usize)> {
    let recorder = Recorder::start(state, &AnalyticsConfig::default())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let off = Reranker::off("collecting simulated sessions");
    let (mut sessions, mut opens) = (0, 0);
    for _ in 0..args.rounds {
        for &(photo, object) in images.iter().filter(|(_, o)| train_on(*o)) {
            let options = QueryOptions {
                k: SHOWN,
                ..QueryOptions::default()
            };
            let q = crop_query(photo, &mut rng);
            let draft = SearchDraft::new(&q, &options, false);
            let answer = search(backend, &off, &q)?;
            let id = recorder.next_search_id();
            let mut event = draft.finish(id, &answer.results, answer.index.name(), 0.0);
            let wanted = relevance(&answer, object, images);
            event.features = answer
                .ranking
                .as_ref()
                .map(|r| ShownFeatures::of(&r.features));
            recorder.record(Event::Search(event));
            for i in clicks.opens(&wanted, &mut rng) {
                let result = &answer.results[i];
                recorder.record(Event::Action(ActionEvent {
                    at_ms: now_ms(),
                    action: Action::Open,
                    image: result.id,
                    search: Some(id),
                    position: Some(i as u32 + 1),
                    folder: String::new(),
                    labels: Vec::new(),
                }));
                opens += 1;
            }
            sessions += 1;
        }
        anyhow::ensure!(
            recorder.flush(Duration::from_secs(60)),
            "the analytics writer did not keep up with the simulated sessions"
        );
    }
    anyhow::ensure!(
        recorder.dropped() == 0,
        "{} simulated events were dropped (the analytics queue was full)",
        recorder.dropped()
    );
    Ok((sessions, opens))
}
