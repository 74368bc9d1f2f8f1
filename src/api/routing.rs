//! Routes that know their methods: a route is declared once, as the handlers it serves, and its
//! `Allow` header is computed from that declaration (DRF's order, `HEAD` wherever `GET` is)
//! instead of being written out by hand beside it.

use std::sync::OnceLock;

use axum::handler::Handler;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::MethodRouter;
use axum::Router;

/// A set of HTTP methods, as a route serves or a view advertises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods(u8);

/// DRF's order of methods in `Allow`, with each method's bit.
const ORDER: [(&str, u8); 7] = [
    ("GET", 1),
    ("POST", 2),
    ("PUT", 4),
    ("PATCH", 8),
    ("DELETE", 16),
    ("HEAD", 32),
    ("OPTIONS", 64),
];

impl Methods {
    /// No method.
    pub const NONE: Methods = Methods(0);
    /// `GET` (and with it `HEAD`).
    pub const GET: Methods = Methods(1 | 32);
    /// `POST`.
    pub const POST: Methods = Methods(2);
    /// `PUT`.
    pub const PUT: Methods = Methods(4);
    /// `PATCH`.
    pub const PATCH: Methods = Methods(8);
    /// `DELETE`.
    pub const DELETE: Methods = Methods(16);
    /// `OPTIONS`.
    pub const OPTIONS: Methods = Methods(64);

    /// DRF's list view with create (`ListCreateAPIView`).
    pub const LIST_CREATE: Methods = Methods::GET.and(Methods::POST).and(Methods::OPTIONS);
    /// DRF's detail view (`RetrieveUpdateDestroyAPIView`).
    pub const RETRIEVE_UPDATE_DESTROY: Methods = Methods::GET
        .and(Methods::PUT)
        .and(Methods::PATCH)
        .and(Methods::DELETE)
        .and(Methods::OPTIONS);

    /// Both sets.
    pub const fn and(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    /// The methods an OpenAPI document lists for this set, in DRF's order: `HEAD` and `OPTIONS`
    /// are left out (every route answers them; authentik's document names neither).
    pub fn documented(self) -> impl Iterator<Item = &'static str> {
        ORDER
            .iter()
            .filter(move |(name, bit)| self.0 & bit != 0 && *name != "HEAD" && *name != "OPTIONS")
            .map(|(name, _)| *name)
    }

    /// Whether every method of `other` is in this set.
    pub const fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    /// The `Allow` value: the methods in DRF's order (`GET, POST, HEAD, OPTIONS`), computed
    /// once per set (AWX handlers ask on every answer).
    pub fn allow(self) -> HeaderValue {
        static VALUES: OnceLock<Vec<HeaderValue>> = OnceLock::new();
        let values = VALUES.get_or_init(|| (0..=u8::MAX >> 1).map(allow_value).collect());
        values
            .get(usize::from(self.0))
            .cloned()
            .unwrap_or_else(|| allow_value(self.0))
    }
}

/// The `Allow` value of a set of method bits.
fn allow_value(bits: u8) -> HeaderValue {
    let names: Vec<&str> = ORDER
        .iter()
        .filter(|(_, bit)| bits & bit != 0)
        .map(|(name, _)| *name)
        .collect();
    HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
}

/// One route being declared: its handlers, and the methods they serve.
pub struct Route<S> {
    router: MethodRouter<S>,
    served: Methods,
}

impl<S: Clone + Send + Sync + 'static> Default for Route<S> {
    fn default() -> Self {
        Route::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    /// A route that serves nothing yet.
    pub fn new() -> Self {
        Route {
            router: MethodRouter::new(),
            served: Methods::NONE,
        }
    }

    /// Records `methods` as served by what `add` puts on the router.
    fn serve(
        mut self,
        methods: Methods,
        add: impl FnOnce(MethodRouter<S>) -> MethodRouter<S>,
    ) -> Self {
        self.router = add(self.router);
        self.served = self.served.and(methods);
        self
    }

    /// Serves `GET` (and `HEAD`) with `handler`.
    pub fn get<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::GET, |r| r.get(handler))
    }

    /// Serves `POST` with `handler`.
    pub fn post<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::POST, |r| r.post(handler))
    }

    /// Serves `PUT` with `handler`.
    pub fn put<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::PUT, |r| r.put(handler))
    }

    /// Serves `PATCH` with `handler`.
    pub fn patch<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::PATCH, |r| r.patch(handler))
    }

    /// Serves `DELETE` with `handler`.
    pub fn delete<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::DELETE, |r| r.delete(handler))
    }

    /// Serves `OPTIONS` with `handler`.
    pub fn options<H: Handler<T, S>, T: 'static>(self, handler: H) -> Self {
        self.serve(Methods::OPTIONS, |r| r.options(handler))
    }

    /// The methods this route serves.
    pub fn served(&self) -> Methods {
        self.served
    }

    /// DRF's views: every answer but a 405 carries `Allow` naming the methods served (the
    /// router answers a 405 itself, with the methods in the order they were declared); then
    /// the dialect's `finish`.
    pub fn allow_on_every_answer(self, finish: Finish) -> MethodRouter<S> {
        let allow = self.served.allow();
        self.router
            .layer(map_response(move |mut response: Response| {
                if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                    response.headers_mut().insert(header::ALLOW, allow.clone());
                }
                std::future::ready(finish(response))
            }))
    }

    /// A route of a view that advertises `view` (whose handlers write it on their answers):
    /// it may serve only methods the view names.
    ///
    /// # Panics
    /// When the route serves a method the view does not name: a route table out of step with
    /// its declaration, caught when the router is built (at start-up, and by every test).
    pub fn within(self, view: Methods, finish: Finish) -> MethodRouter<S> {
        assert!(
            view.contains(self.served),
            "a route serves methods its view does not declare: {:?} outside {:?}",
            self.served,
            view
        );
        finished(self.router, finish)
    }
}

/// A dialect's routes as declared: the router, and each path with the methods it serves, which
/// is what the dialect's OpenAPI document is built from (so the document lists exactly what is
/// served).
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<(&'static str, Methods)>,
    finish: Finish,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes yet; each one's answers will be finished by `finish`.
    pub fn new(finish: Finish) -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
            finish,
        }
    }

    /// Serves `route` at `path`, with `Allow` on every answer (DRF's views).
    pub fn route(mut self, path: &'static str, route: Route<S>) -> Self {
        self.table.push((path, route.served()));
        self.router = self
            .router
            .route(path, route.allow_on_every_answer(self.finish));
        self
    }

    /// These routes and `other`'s.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Each path served, with its methods, in declaration order.
    pub fn table(&self) -> &[(&'static str, Methods)] {
        &self.table
    }

    /// The router.
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// How a dialect finishes every answer of its routes: renders a pending error in its shape and
/// adds its headers. Each route applies it in its one layer (a layer per router would wrap
/// every route once more, and each layer is a service cloned on every request).
pub type Finish = fn(Response) -> Response;

/// A method router whose answers `finish` completes (for routes declared without `Route`).
pub fn finished<S: Clone + Send + Sync + 'static>(
    router: MethodRouter<S>,
    finish: Finish,
) -> MethodRouter<S> {
    router.layer(map_response(move |response: Response| {
        std::future::ready(finish(response))
    }))
}

#[cfg(test)]
mod tests {
    use super::Methods;

    #[test]
    fn allow_lists_methods_in_drf_order_with_head_where_get_is() {
        assert_eq!(
            Methods::RETRIEVE_UPDATE_DESTROY.allow(),
            "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
        );
        assert_eq!(Methods::LIST_CREATE.allow(), "GET, POST, HEAD, OPTIONS");
        assert_eq!(
            Methods::OPTIONS.and(Methods::PATCH).allow(),
            "PATCH, OPTIONS"
        );
        assert!(Methods::RETRIEVE_UPDATE_DESTROY.contains(Methods::GET.and(Methods::DELETE)));
        assert!(!Methods::LIST_CREATE.contains(Methods::PUT));
    }
}
