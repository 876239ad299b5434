/* Hive's GraphiQL page: starts GraphiQL (loaded just before this file, with
   React) against this server's /graphql.

   - ?query=, ?variables= and ?operationName= fill the editors, so a link
     (the staff digest's, or one a colleague sends) opens with its query.
   - ?token= fills the headers editor with `Authorization: Bearer <token>`
     and is then taken out of the address bar (history.replaceState), so the
     session token is not left in the browser's history; the bar above
     GraphiQL does the same for a token typed or pasted in.
   - ?node= (the digest links of earlier releases) opens a query for that id.

   Headers are never saved in the browser's storage (shouldPersistHeaders is
   off): a token lives only as long as the tab. */
(function () {
  'use strict';

  var params = new URLSearchParams(window.location.search);
  var token = params.get('token');
  if (params.has('token')) {
    params.delete('token');
    var rest = params.toString();
    window.history.replaceState(
      null,
      '',
      window.location.pathname + (rest ? '?' + rest : '') + window.location.hash
    );
  }

  function bearer(value) {
    return JSON.stringify({ Authorization: 'Bearer ' + value }, null, 2);
  }

  var state = {
    query: params.get('query'),
    variables: params.get('variables'),
    operationName: params.get('operationName'),
    headers: token ? bearer(token.trim()) : null
  };
  var node = params.get('node');
  if (state.query === null && node) {
    state.query =
      '{\n  node(id: ' + JSON.stringify(node) + ') {\n    id\n    __typename\n  }\n}\n';
  }

  var endpoint = new URL('graphql', window.location.href).href;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  // A new token remounts GraphiQL (its editors take their props once), with
  // the query and variables as they were edited.
  var mount = 0;

  function render() {
    var props = {
      key: 'graphiql-' + mount,
      fetcher: fetcher,
      shouldPersistHeaders: false,
      onEditQuery: function (value) { state.query = value; },
      onEditVariables: function (value) { state.variables = value; },
      onEditHeaders: function (value) { state.headers = value; }
    };
    if (state.query !== null) props.query = state.query;
    if (state.variables !== null) props.variables = state.variables;
    if (state.operationName) props.operationName = state.operationName;
    if (state.headers !== null) {
      props.headers = state.headers;
      props.defaultEditorToolsVisibility = 'headers';
    }
    root.render(React.createElement(GraphiQL, props));
  }

  document.getElementById('hive-token').addEventListener('submit', function (event) {
    event.preventDefault();
    var input = document.getElementById('hive-token-value');
    var value = input.value.trim();
    if (!value) return;
    input.value = '';
    state.headers = bearer(value);
    mount += 1;
    render();
  });

  render();
})();
