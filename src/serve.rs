//! `mcp-warden serve` and `mcp-warden stdio`: starting a gateway from its
//! config, binding its listeners, the signals (SIGINT/SIGTERM drain, a
//! second signal, SIGHUP reload) and the runtime's shutdown.

use mcp_warden::config::GatewayConfig;
use mcp_warden::gateway::Gateway;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio_util::sync::CancellationToken;

pub enum Front {
    Http,
    Stdio,
}

/// How long to wait, after the gateway is done, for the runtime's blocking
/// threads: tokio reads stdin on one, and nothing can interrupt that read.
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(200);

pub fn run(path: &std::path::Path, front: Front) -> ExitCode {
    let config = match GatewayConfig::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.relay.runtime_threads())
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let code = runtime.block_on(async move {
        // Before anything announces itself: a signal arriving in between
        // would otherwise kill the process without a drain.
        let mut signals = match Signals::install() {
            Ok(signals) => signals,
            Err(e) => {
                eprintln!("error: cannot handle SIGINT and SIGTERM: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Bound before anything starts: a listener that cannot bind then
        // ends the start with nothing to undo (upstreams started and killed
        // again would log warnings that bury the reason).
        let listeners = match Listeners::bind(&config, path, &front).await {
            Ok(listeners) => listeners,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let gateway = match Gateway::start(config) {
            Ok(gateway) => gateway,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        tokio::spawn(reload_on_sighup(gateway.clone()));
        let shutdown = CancellationToken::new();
        let admin = listeners.admin.map(|listener| serve_admin(&gateway, listener, &shutdown));
        let drain = gateway.config.listen.drain_timeout;
        let serving = async {
            match listeners.mcp {
                None => serve_stdio(gateway, shutdown.clone()).await,
                Some(listener) => serve_http(gateway, listener, shutdown.clone()).await,
            }
        };
        let signalled = async {
            signals.next().await;
            shutdown.cancel();
            let second = signals.next().await;
            tracing::warn!("{second} during the drain: exiting now, without waiting for requests in flight");
        };
        let code = tokio::select! {
            code = serving => code,
            () = signalled => return ExitCode::SUCCESS,
        };
        // The front may have ended on its own (stdin closed, the listener
        // failed): the admin listener goes with it.
        shutdown.cancel();
        if let Some(admin) = admin {
            let _ = tokio::time::timeout(drain, admin).await;
        }
        code
    });
    // Dropping the runtime's tasks closes what is still open and kills the
    // upstream children; a blocked stdin read must not hold up the exit.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    code
}

/// SIGINT and SIGTERM: the first starts the drain, the second ends it.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// Waits for the next SIGINT or SIGTERM and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// The listeners a front needs, bound before the gateway starts.
struct Listeners {
    /// The MCP endpoint (`serve` only).
    mcp: Option<tokio::net::TcpListener>,
    /// The admin API, if `[admin]` is configured.
    admin: Option<tokio::net::TcpListener>,
}

impl Listeners {
    /// Fails closed: a configured listener that cannot bind stops the
    /// gateway, with the address and the key that set it.
    async fn bind(config: &GatewayConfig, path: &std::path::Path, front: &Front) -> Result<Listeners, String> {
        let bind = |addr: std::net::SocketAddr, key: &'static str, section: &'static str| async move {
            tokio::net::TcpListener::bind(addr).await.map_err(|e| cannot_listen(addr, key, section, path, &e))
        };
        let admin = match &config.admin {
            Some(admin) => Some(bind(admin.listen, "admin.listen", "[admin] listen").await?),
            None => None,
        };
        let mcp = match front {
            Front::Http => Some(bind(config.listen.http, "listen.http", "[listen] http").await?),
            Front::Stdio => None,
        };
        Ok(Listeners { mcp, admin })
    }
}

/// Why a listener did not bind, naming the address and where it was set.
fn cannot_listen(
    addr: std::net::SocketAddr,
    key: &str,
    section: &str,
    path: &std::path::Path,
    e: &std::io::Error,
) -> String {
    let set = format!("cannot listen on {addr}, the address {key} sets in {}", path.display());
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{set}: it is already in use (another mcp-warden, or another server, listens there); \
             stop that one or set {section} to a free address"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            format!("{set}: no interface of this machine has that address; set {section} to one of its own")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("{set}: permission denied (ports below 1024 need privileges); set {section} to another port")
        }
        _ => format!("{set}: {e}"),
    }
}

/// Spawns the admin listener.
fn serve_admin(
    gateway: &Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    if let Ok(local) = listener.local_addr() {
        tracing::info!("serving the admin API on http://{local}/admin/api");
    }
    tokio::spawn(mcp_warden::admin::serve(gateway.clone(), listener, shutdown.clone()))
}

async fn serve_stdio(gateway: Arc<Gateway>, shutdown: CancellationToken) -> ExitCode {
    mcp_warden::front::stdio::serve(gateway, tokio::io::stdin(), tokio::io::stdout(), shutdown).await;
    ExitCode::SUCCESS
}

async fn serve_http(gateway: Arc<Gateway>, listener: tokio::net::TcpListener, shutdown: CancellationToken) -> ExitCode {
    let local = listener.local_addr().map_or_else(|_| gateway.config.listen.http.to_string(), |a| a.to_string());
    tracing::info!("serving MCP on http://{local}{}", gateway.config.listen.path);
    match mcp_warden::front::http::serve(gateway, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGHUP re-reads the policy files and the lock files of `[pins]`; what
/// does not load leaves what is in force untouched.
async fn reload_on_sighup(gateway: Arc<Gateway>) {
    let Ok(mut hangups) = signal(SignalKind::hangup()) else { return };
    while hangups.recv().await.is_some() {
        match gateway.reload_policy() {
            Ok(version) => tracing::info!(policy_version = %version, "policy reloaded"),
            Err(e) => tracing::error!("policy reload failed, the previous policy stays in force: {e}"),
        }
        match gateway.reload_pins() {
            Ok(()) => tracing::info!("pins reloaded"),
            Err(e) => tracing::error!("pins reload failed, the previous pins stay in force: {e}"),
        }
    }
}
