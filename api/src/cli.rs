//! The `hive-api` command line.

use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use entity::users::Role;
use hive_worker::{Settings, db, telemetry};
use tokio::net::TcpListener;
use tracing::info;

use crate::{admin, graphql::relay, seed, server};

#[derive(Parser, Debug)]
#[command(
    name = "hive-api",
    version,
    about = "Hive: co-operative business support programme"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args, Debug, Default)]
struct ServeArgs {
    /// Serve only; run `hive-worker` separately to send email.
    #[arg(long)]
    no_worker: bool,
    /// Load the demo programme and print a staff token before serving.
    #[arg(long)]
    demo: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Load data.
    Seed {
        /// The demo programme: co-ops, mentors, advisers, topics, requests.
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Print the GraphQL SDL.
    Schema,
    /// Fill an empty database with synthetic data for benchmarks; prints the
    /// request id to rank and a staff token.
    #[command(hide = true)]
    BenchData {
        #[arg(long, default_value_t = 10_000)]
        providers: usize,
        #[arg(long, default_value_t = 1_000)]
        topics: usize,
        #[arg(long, default_value_t = 5_000)]
        coops: usize,
    },
    /// A census-sized programme in an empty database: prints a staff token
    /// and the topics' ids; with `--answer-survey`, instead answers every
    /// invitation of that (launched) survey.
    #[command(hide = true)]
    BenchCensus {
        #[arg(long, default_value_t = 10_000)]
        coops: usize,
        #[arg(long)]
        answer_survey: Option<String>,
    },
    /// Queue `count` emails in a fresh database; with `--wait`, instead wait
    /// until a separately running `hive-worker` has sent that many and print
    /// the rate (from when waiting starts to the last one's `sent_at`).
    #[command(hide = true)]
    BenchEmails {
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create a user and print a session token as the last line.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The organisation's number or global id (members only).
        #[arg(long)]
        organisation: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RoleArg {
    Staff,
    Mentor,
    Adviser,
    Member,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Staff => Role::Staff,
            RoleArg::Mentor => Role::Mentor,
            RoleArg::Adviser => Role::Adviser,
            RoleArg::Member => Role::Member,
        }
    }
}

/// Parses arguments and runs; errors become one line on stderr and exit 1
/// (2 for bad configuration or arguments).
/// The process: a Tokio runtime around [`main`], shut down with a time limit
/// so that a task that never yields cannot keep a stopping process alive.
pub fn run_main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hive-api: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(main());
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

pub async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("hive-api: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hive-api: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The staff member a bench script acts as: prints `token <session>`.
async fn print_bench_staff_token(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
) -> anyhow::Result<()> {
    let (_, token) = admin::create_user(
        db,
        "bench-staff@hive.example",
        "Bench Staff",
        Role::Staff,
        None,
        settings.session_lifetime,
    )
    .await?;
    println!("token {}", token.expose());
    Ok(())
}

async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        None => serve(settings, cli.serve).await,
        Some(Command::Serve(args)) => {
            serve(
                settings,
                ServeArgs {
                    no_worker: args.no_worker || cli.serve.no_worker,
                    demo: args.demo || cli.serve.demo,
                },
            )
            .await
        }
        Some(Command::Migrate) => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::BenchData {
            providers,
            topics,
            coops,
        }) => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let data = crate::bench_data::generate(
                &db,
                crate::bench_data::BenchSize {
                    providers,
                    topics: topics.max(100),
                    coops: coops.max(1),
                },
            )
            .await?;
            println!("request {}", data.request_id);
            print_bench_staff_token(&db, &settings).await
        }
        Some(Command::BenchCensus {
            coops,
            answer_survey,
        }) => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            if let Some(survey) = answer_survey {
                let survey = relay::decode_id_of(
                    relay::NodeType::Survey,
                    &async_graphql::ID(survey.clone()),
                )
                .map_err(|_| anyhow::anyhow!("not a survey id: {survey}"))?;
                let answered = crate::bench_data::answer_all(&db, survey).await?;
                println!("answered {answered}");
                return Ok(());
            }
            for topic in crate::bench_data::census(&db, coops).await? {
                println!("topic {topic}");
            }
            print_bench_staff_token(&db, &settings).await
        }
        Some(Command::BenchEmails { count, wait }) => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            if !wait {
                crate::bench_data::enqueue_emails(&db, count).await?;
                println!("queued {count}");
                return Ok(());
            }
            let started = chrono::Utc::now();
            // The mail bench starts the worker once it reads this line.
            println!("waiting for {count} emails");
            let last_sent = crate::bench_data::wait_until_sent(&db, count).await?;
            let seconds = (last_sent - started).as_seconds_f64();
            println!(
                "sent {count} in {seconds:.1} s: {:.0} messages/s",
                count as f64 / seconds
            );
            Ok(())
        }
        Some(Command::Schema) => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Some(Command::Seed { demo: _ }) => {
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let summary = seed::demo(&db).await?;
            println!("{summary}");
            Ok(())
        }
        Some(Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    name,
                    role,
                    organisation,
                },
        }) => {
            let organisation_id = organisation.map(|o| parse_organisation(&o)).transpose()?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let (user, token) = admin::create_user(
                &db,
                &email,
                &name,
                role.into(),
                organisation_id,
                settings.session_lifetime,
            )
            .await?;
            println!(
                "user {} <{}> ({:?}), id {}",
                user.name,
                user.email,
                user.role,
                relay::global_id(relay::NodeType::User, user.id).as_str()
            );
            println!("session token (send as 'Authorization: Bearer <token>'):");
            println!("{}", token.expose());
            Ok(())
        }
    }
}

fn parse_organisation(value: &str) -> anyhow::Result<i64> {
    if let Ok(number) = value.parse::<i64>() {
        return Ok(number);
    }
    relay::decode_id_of(
        relay::NodeType::Organisation,
        &async_graphql::ID(value.to_string()),
    )
    .map_err(|_| anyhow::anyhow!("--organisation: '{value}' is not an organisation id"))
}

async fn serve(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.addr).await.map_err(|error| {
        anyhow::anyhow!("HIVE_ADDR: cannot listen on {}: {error}", settings.addr)
    })?;
    let settings = Arc::new(settings);
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    if args.demo {
        let summary = seed::demo(&db).await?;
        let (_, token) = admin::create_user(
            &db,
            seed::DEMO_STAFF_EMAIL,
            seed::DEMO_STAFF_NAME,
            Role::Staff,
            None,
            settings.session_lifetime,
        )
        .await?;
        println!("{summary}");
        println!("GraphiQL: {}/graphql", settings.public_url);
        // GraphiQL puts a `?token=` into its headers editor and takes it out
        // of the address bar: one click for someone trying Hive.
        println!(
            "GraphiQL signed in as staff: {}/graphql?token={}",
            settings.public_url,
            token.expose()
        );
        println!("Staff token (Authorization: Bearer <token>):");
        println!("{}", token.expose());
    }
    let running = server::start_with_db(settings.clone(), db, listener, !args.no_worker).await?;
    info!(graphiql = %format!("{}/graphql", settings.public_url), "ready");
    hive_worker::runner::shutdown_on_signal(running.shutdown.clone()).await;
    // The server lets requests finish for its grace and then drops them; the
    // worker finishes its sends. Whatever still holds on after that is not
    // waited for.
    let limit = settings.limits.shutdown_grace + STOP_AFTER_GRACE;
    match tokio::time::timeout(limit, running.stop()).await {
        Ok(stopped) => stopped,
        Err(_) => {
            tracing::error!(
                seconds = limit.as_secs(),
                "still stopping after the shutdown limit; exiting anyway"
            );
            Ok(())
        }
    }
}

/// How long after the server's grace a stopping `hive-api` still waits for
/// the worker and the last connections.
const STOP_AFTER_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
