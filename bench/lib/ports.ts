/** The ports and the URL every bench tool uses: the upstream (nginx), the proxy under test, and its chat route. */
export const UPSTREAM_PORT = 19_080;
export const PROXY_PORT = 19_081;
export const CHAT_PATH = '/v1/chat/completions';
export const URL_UNDER_TEST = `http://127.0.0.1:${PROXY_PORT}${CHAT_PATH}`;
