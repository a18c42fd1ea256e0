// The breakglass console: log in, pick or start a session, follow its
// event stream, ask, stop, and power the VM. Plain JS, no build step.
//
// The transcript is a fold of the session's events by their gap-free id:
// an event whose id was already folded is ignored, so a replay after a
// reconnect (EventSource's own, with Last-Event-ID, or ours, with
// ?last_event_id=) never shows anything twice.
//
// SPDX-License-Identifier: GPL-3.0-or-later
'use strict';

const STRINGS = {
  en: {
    title: 'Breakglass',
    loginTitle: 'Log in',
    tokenLabel: 'API token',
    tokenHint: 'The token from the service’s token file. It is sent once; the browser then keeps a session cookie.',
    login: 'Log in',
    loggingIn: 'Logging in…',
    badToken: 'Wrong token.',
    loginFailed: 'Could not log in: {0}',
    logout: 'Log out',
    session: 'Session',
    newSession: 'New',
    noSessions: 'No sessions yet',
    sessionLabel: '{0} · {1} events',
    running: 'running',
    conn_idle: 'Not connected',
    conn_connecting: 'Connecting…',
    conn_live: 'Live',
    conn_reconnecting: 'Reconnecting…',
    conn_offline: 'Offline',
    promptLabel: 'Message',
    promptPlaceholder: 'Ask about the VM…',
    send: 'Send',
    stop: 'Stop',
    presetsLabel: 'Quick diagnosis',
    presets: [
      'What is using the disk?',
      'Why is the VM slow?',
      'Show failed systemd units',
      'Last errors in the journal',
      'Is the network up?',
    ],
    empty: 'Tap a question below or type your own.',
    power: 'Power',
    powerTitle: 'VM power',
    powerLoading: 'Loading…',
    powerNone: 'No power verbs are available.',
    confirmTitle: 'Run “{0}” on the VM?',
    confirmText: 'This changes the state of the VM.',
    cancel: 'Cancel',
    confirmGo: 'Yes, {0}',
    runningVerb: 'Running {0}…',
    verbOk: '{0}: done (exit code 0)',
    verbFailed: '{0}: failed (exit code {1})',
    verbNoExit: '{0}: no exit code (timed out?)',
    verbRejected: 'The host refused the verb.',
    close: 'Close',
    busy: 'A turn is already running in this session.',
    tooMany: 'Too many turns are running. Try again in a moment.',
    gone: 'This session no longer exists.',
    loggedOut: 'Your login has expired. Log in again.',
    failed: 'Failed: {0}',
    network: 'No connection to the service.',
    cancelled: 'Stopped.',
    turnDone: 'Done in {0} s',
    turnFailed: 'The turn ended with an error.',
    restarted: 'The service restarted during the turn.',
    verbs: {
      status: 'Status', forensics: 'Forensics', reset: 'Reset',
      stop: 'Stop', start: 'Start', cycle: 'Power cycle',
    },
  },
  bg: {
    title: 'Аварийна конзола',
    loginTitle: 'Вход',
    tokenLabel: 'API токен',
    tokenHint: 'Токенът от файла с токена на услугата. Изпраща се веднъж, после браузърът пази бисквитка за сесията.',
    login: 'Вход',
    loggingIn: 'Влизане…',
    badToken: 'Грешен токен.',
    loginFailed: 'Входът не успя: {0}',
    logout: 'Изход',
    session: 'Сесия',
    newSession: 'Нова',
    noSessions: 'Още няма сесии',
    sessionLabel: '{0} · {1} събития',
    running: 'работи',
    conn_idle: 'Няма връзка',
    conn_connecting: 'Свързване…',
    conn_live: 'На живо',
    conn_reconnecting: 'Повторно свързване…',
    conn_offline: 'Без мрежа',
    promptLabel: 'Съобщение',
    promptPlaceholder: 'Попитайте за машината…',
    send: 'Изпрати',
    stop: 'Спри',
    presetsLabel: 'Бърза диагностика',
    presets: [
      'Какво заема диска?',
      'Защо виртуалната машина е бавна?',
      'Покажи неуспешните systemd услуги',
      'Последните грешки в журнала',
      'Работи ли мрежата?',
    ],
    empty: 'Докоснете въпрос отдолу или напишете свой.',
    power: 'Захранване',
    powerTitle: 'Захранване на машината',
    powerLoading: 'Зареждане…',
    powerNone: 'Няма налични команди за захранване.',
    confirmTitle: 'Да се изпълни ли „{0}“ на виртуалната машина?',
    confirmText: 'Това променя състоянието на машината.',
    cancel: 'Отказ',
    confirmGo: 'Да, {0}',
    runningVerb: 'Изпълнява се „{0}“…',
    verbOk: '{0}: готово (код на изход 0)',
    verbFailed: '{0}: неуспех (код на изход {1})',
    verbNoExit: '{0}: няма код на изход (изтекло време?)',
    verbRejected: 'Хостът отказа командата.',
    close: 'Затвори',
    busy: 'В тази сесия вече се изпълнява заявка.',
    tooMany: 'Изпълняват се твърде много заявки. Опитайте пак след малко.',
    gone: 'Тази сесия вече не съществува.',
    loggedOut: 'Входът ви е изтекъл. Влезте отново.',
    failed: 'Неуспех: {0}',
    network: 'Няма връзка с услугата.',
    cancelled: 'Спряно.',
    turnDone: 'Готово за {0} с',
    turnFailed: 'Заявката завърши с грешка.',
    restarted: 'Услугата се рестартира по време на заявката.',
    verbs: {
      status: 'Състояние', forensics: 'Диагностика', reset: 'Рестарт',
      stop: 'Спиране', start: 'Стартиране', cycle: 'Изключи и включи',
    },
  },
};

// The first of the browser's languages we have, else English.
function pickLanguage(languages) {
  for (const tag of languages || []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base in STRINGS) return base;
  }
  return 'en';
}

const LANG = pickLanguage(navigator.languages && navigator.languages.length
  ? navigator.languages : [navigator.language]);
const S = STRINGS[LANG];

function t(key, ...args) {
  const text = S[key] ?? STRINGS.en[key] ?? key;
  return String(text).replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ''));
}

// Not a secret (the cookie is HttpOnly): only whether to try the API
// before showing the login form, so a first visit makes no 401.
const LOGGED_IN_KEY = 'cas.breakglass.loggedIn';
const SESSION_KEY = 'cas.breakglass.session';
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// Hidden longer than this (a phone asleep), the stream is re-opened on
// return: a connection that died in the meantime may not know it yet.
const STALE_AFTER_HIDDEN_MS = 5000;
const EVENT_KINDS = ['user', 'session', 'text', 'tool', 'result', 'error', 'cancelled', 'turn_end'];

const $ = (id) => document.getElementById(id);

const state = {
  sessionId: null,
  source: null,        // the EventSource
  lastId: -1,          // the highest event id folded
  turn: null,          // { li, lastText, open } for the turn being folded
  turnActive: false,
  turnsEnded: 0,       // turn_end events folded, to tell a turn over before its POST returned
  caughtUp: false,
  retryTimer: 0,
  backoffMs: BACKOFF_MIN_MS,
  hiddenSince: 0,
  verbs: null,
  pendingVerb: null,
};

// --- Small helpers --------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class HttpError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (response.status === 401 && path !== '/api/login') {
    showLogin(t('loggedOut'));
  }
  if (!response.ok && !(path.startsWith('/api/pve/') && response.status === 502)) {
    throw new HttpError(response.status, data);
  }
  return { status: response.status, data };
}

function notice(text) {
  const node = $('notice');
  node.textContent = text || '';
  node.hidden = !text;
}

function explain(error) {
  if (!(error instanceof HttpError)) return t('network');
  if (error.status === 409) return t('busy');
  if (error.status === 429) return t('tooMany');
  if (error.status === 404) return t('gone');
  return t('failed', error.message);
}

// --- Static text ----------------------------------------------------------

function applyStrings() {
  document.documentElement.lang = LANG;
  document.title = t('title');
  for (const node of document.querySelectorAll('[data-i18n]')) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll('[data-i18n-placeholder]')) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  }
  const presets = $('presets');
  presets.replaceChildren();
  for (const text of S.presets) {
    const button = el('button', 'preset', text);
    button.type = 'button';
    button.addEventListener('click', () => sendPrompt(text));
    presets.append(button);
  }
}

function setConnection(name) {
  const node = $('conn');
  node.dataset.state = name;
  $('conn-text').textContent = t('conn_' + name);
}

// --- Login ----------------------------------------------------------------

function showLogin(message) {
  localStorage.removeItem(LOGGED_IN_KEY);
  closeStream();
  setConnection('idle');
  $('console-view').hidden = true;
  $('logout').hidden = true;
  $('power-open').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
}

async function onLogin(event) {
  event.preventDefault();
  const input = $('token');
  const button = $('login-button');
  const token = input.value.trim();
  if (!token) return;
  button.disabled = true;
  button.textContent = t('loggingIn');
  $('login-error').textContent = '';
  try {
    await api('POST', '/api/login', { token });
    input.value = '';
    localStorage.setItem(LOGGED_IN_KEY, '1');
    await showConsole();
  } catch (error) {
    $('login-error').textContent = error instanceof HttpError && error.status === 401
      ? t('badToken') : (error instanceof HttpError ? t('loginFailed', error.message) : t('network'));
  } finally {
    button.disabled = false;
    button.textContent = t('login');
  }
}

async function onLogout() {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    // Logged out here whatever the service says.
  }
  localStorage.removeItem(SESSION_KEY);
  showLogin('');
}

// --- Sessions -------------------------------------------------------------

// GET /api/sessions as a list of {id, created, lastActivity, active, events}.
function normaliseSessions(data) {
  const list = Array.isArray(data) ? data : (data && Array.isArray(data.sessions) ? data.sessions : []);
  return list.map((s) => ({
    id: String(s.session_id ?? s.id ?? ''),
    created: s.created ?? s.created_at ?? null,
    lastActivity: s.last_activity ?? s.last_activity_at ?? s.created ?? null,
    active: Boolean(s.turn_active ?? s.active),
    events: Number(s.event_count ?? s.events ?? 0),
  })).filter((s) => s.id)
    .sort((a, b) => (typeof a.lastActivity === 'number' && typeof b.lastActivity === 'number'
      ? b.lastActivity - a.lastActivity
      : String(b.lastActivity).localeCompare(String(a.lastActivity))));
}

function formatTime(value) {
  if (value === null || value === undefined) return '';
  const date = typeof value === 'number' ? new Date(value * (value < 1e12 ? 1000 : 1)) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  // Today's sessions by the time alone: the picker is narrow on a phone.
  const today = new Date().toDateString() === date.toDateString();
  return new Intl.DateTimeFormat(LANG, today ? { timeStyle: 'short' }
    : { dateStyle: 'short', timeStyle: 'short' }).format(date);
}

async function loadSessions() {
  const { data } = await api('GET', '/api/sessions');
  const sessions = normaliseSessions(data);
  const select = $('session-select');
  select.replaceChildren();
  if (sessions.length === 0) {
    const option = el('option', '', t('noSessions'));
    option.value = '';
    select.append(option);
    select.disabled = true;
  } else {
    select.disabled = false;
    for (const s of sessions) {
      let label = t('sessionLabel', formatTime(s.lastActivity) || s.id.slice(0, 8), s.events);
      if (s.active) label += ' · ' + t('running');
      const option = el('option', '', label);
      option.value = s.id;
      select.append(option);
    }
  }
  return sessions;
}

async function showConsole() {
  $('login-view').hidden = true;
  $('console-view').hidden = false;
  $('logout').hidden = false;
  $('power-open').hidden = false;
  let sessions;
  try {
    sessions = await loadSessions();
  } catch (error) {
    // Power verbs need no sessions: a broken session list leaves them at hand.
    if (!(error instanceof HttpError) || error.status === 401) throw error;
    notice(t('failed', error.message));
    return;
  }
  const saved = localStorage.getItem(SESSION_KEY);
  const pick = sessions.find((s) => s.id === saved) || sessions[0];
  if (pick) openSession(pick.id);
  else resetTranscript();
}

async function newSession() {
  const { data } = await api('POST', '/api/session');
  const id = data && (data.session_id ?? data.id);
  if (!id) throw new HttpError(500, { detail: 'no session id' });
  await loadSessions();
  openSession(String(id));
  return String(id);
}

// --- The transcript: a fold of events by id -------------------------------

function resetTranscript() {
  state.lastId = -1;
  state.turn = null;
  state.turnActive = false;
  state.caughtUp = false;
  $('turns').replaceChildren();
  $('empty').hidden = false;
  updateComposer();
}

function startTurn() {
  const li = el('li', 'turn open');
  $('turns').append(li);
  $('empty').hidden = true;
  state.turn = { li, lastText: null, open: true };
  return state.turn;
}

function currentTurn() {
  return state.turn && state.turn.open ? state.turn : startTurn();
}

function toolSummary(name, input) {
  if (input && typeof input === 'object') {
    for (const key of ['command', 'file_path', 'path', 'pattern', 'url']) {
      if (typeof input[key] === 'string') return input[key];
    }
    return JSON.stringify(input);
  }
  return input === undefined || input === null ? '' : String(input);
}

function nearBottom() {
  const box = $('transcript');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToBottom() {
  const box = $('transcript');
  box.scrollTop = box.scrollHeight;
}

// Folds one event; returns false for one already folded.
function fold(event) {
  const id = Number(event.id);
  if (!Number.isInteger(id) || id <= state.lastId) return false;
  state.lastId = id;
  const pinned = nearBottom();

  switch (event.kind) {
    case 'user': {
      if (state.turn && state.turn.open) closeTurn();
      const turn = startTurn();
      turn.li.append(el('p', 'msg user', String(event.text ?? '')));
      state.turnActive = true;
      break;
    }
    case 'text': {
      const turn = currentTurn();
      if (turn.lastText) {
        turn.lastText.textContent += String(event.text ?? '');
      } else {
        turn.lastText = el('p', 'msg text', String(event.text ?? ''));
        turn.li.append(turn.lastText);
      }
      break;
    }
    case 'tool': {
      const turn = currentTurn();
      const details = el('details', 'tool');
      const summary = el('summary');
      summary.append(el('b', '', String(event.name ?? 'tool')),
                     el('span', '', toolSummary(event.name, event.input)));
      const body = el('pre', '', typeof event.input === 'string'
        ? event.input : JSON.stringify(event.input ?? {}, null, 2));
      details.append(summary, body);
      turn.li.append(details);
      turn.lastText = null;
      break;
    }
    case 'result': {
      const turn = currentTurn();
      if (event.is_error) {
        turn.li.append(el('p', 'msg error', String(event.result || t('turnFailed'))));
      } else if (typeof event.duration_ms === 'number') {
        turn.li.append(el('p', 'msg note', t('turnDone', (event.duration_ms / 1000).toFixed(1))));
      }
      turn.lastText = null;
      break;
    }
    case 'error': {
      const turn = currentTurn();
      turn.li.append(el('p', 'msg error', String(event.error ?? t('turnFailed'))));
      turn.lastText = null;
      break;
    }
    case 'cancelled': {
      const turn = currentTurn();
      turn.li.append(el('p', 'msg note', t('cancelled')));
      turn.lastText = null;
      break;
    }
    case 'turn_end':
      if (state.turn && state.turn.open) closeTurn();
      state.turnActive = false;
      state.turnsEnded += 1;
      break;
    default:
      // "session" and kinds this page does not know: nothing to show.
      break;
  }
  updateComposer();
  if (pinned) scrollToBottom();
  return true;
}

function closeTurn() {
  state.turn.open = false;
  state.turn.li.classList.remove('open');
}

function onStreamData(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch (e) {
    return;
  }
  if (!event || typeof event !== 'object') return;
  if (event.id === undefined && message.lastEventId !== '') event.id = Number(message.lastEventId);
  if (event.kind === undefined && EVENT_KINDS.includes(message.type)) event.kind = message.type;
  fold(event);
}

// --- The stream -----------------------------------------------------------

function closeStream() {
  clearTimeout(state.retryTimer);
  state.retryTimer = 0;
  if (state.source) {
    state.source.close();
    state.source = null;
  }
}

function streamUrl() {
  let url = `/api/session/${encodeURIComponent(state.sessionId)}/stream`;
  if (state.lastId >= 0) url += `?last_event_id=${state.lastId}`;
  return url;
}

function connect(reconnecting) {
  closeStream();
  if (!state.sessionId) return;
  setConnection(navigator.onLine === false ? 'offline' : (reconnecting ? 'reconnecting' : 'connecting'));
  const source = new EventSource(streamUrl());
  state.source = source;
  source.onmessage = onStreamData;
  for (const kind of EVENT_KINDS) {
    if (kind !== 'error') source.addEventListener(kind, onStreamData);
  }
  source.addEventListener('caught-up', () => {
    if (source !== state.source) return;
    state.caughtUp = true;
    state.backoffMs = BACKOFF_MIN_MS;
    setConnection('live');
    updateComposer();
  });
  source.onerror = (message) => {
    if (source !== state.source) return;
    // A named "error" event from the service carries data; a failure does not.
    if (message && typeof message.data === 'string') {
      onStreamData(message);
      return;
    }
    if (source.readyState === EventSource.CONNECTING) {
      // The browser retries on its own, with Last-Event-ID.
      setConnection(navigator.onLine === false ? 'offline' : 'reconnecting');
      return;
    }
    // It gave up (an HTTP error, say): find out why, then retry later.
    source.close();
    state.source = null;
    setConnection(navigator.onLine === false ? 'offline' : 'reconnecting');
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  clearTimeout(state.retryTimer);
  const delay = state.backoffMs * (0.75 + Math.random() * 0.5);
  state.backoffMs = Math.min(state.backoffMs * 2, BACKOFF_MAX_MS);
  state.retryTimer = setTimeout(checkAndReconnect, delay);
}

// Before re-opening a stream that failed: still logged in, session still there?
async function checkAndReconnect() {
  state.retryTimer = 0;
  if (!state.sessionId || $('console-view').hidden) return;
  try {
    const sessions = await loadSessions();
    if (!sessions.some((s) => s.id === state.sessionId)) {
      notice(t('gone'));
      const id = state.sessionId;
      state.sessionId = null;
      localStorage.removeItem(SESSION_KEY);
      setConnection('idle');
      if (sessions[0] && sessions[0].id !== id) openSession(sessions[0].id);
      return;
    }
    $('session-select').value = state.sessionId;
    connect(true);
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return;
    scheduleReconnect();
  }
}

function openSession(id) {
  notice('');
  if (id !== state.sessionId) {
    state.sessionId = id;
    resetTranscript();
  }
  localStorage.setItem(SESSION_KEY, id);
  $('session-select').value = id;
  state.backoffMs = BACKOFF_MIN_MS;
  connect(false);
}

// A phone that slept, or a network that came back: the stream may be dead
// without knowing it. Re-open it after what was folded.
function recheck() {
  if (!state.sessionId || $('console-view').hidden) return;
  state.backoffMs = BACKOFF_MIN_MS;
  checkAndReconnect();
}

// --- Composer and Stop ----------------------------------------------------

function updateComposer() {
  const busy = state.turnActive;
  $('send').hidden = busy;
  $('stop').hidden = !busy;
  for (const button of document.querySelectorAll('#presets button')) button.disabled = busy;
}

async function sendPrompt(text) {
  const prompt = String(text || '').trim();
  if (!prompt || state.turnActive) return false;
  notice('');
  const send = $('send');
  send.disabled = true;
  try {
    const id = state.sessionId || await newSession();
    const ended = state.turnsEnded;
    await api('POST', `/api/session/${encodeURIComponent(id)}/prompt`, { prompt });
    // The prompt comes back as a "user" event; until then Stop is already
    // right, unless the stream has brought the whole turn first.
    if (state.turnsEnded === ended && id === state.sessionId) {
      state.turnActive = true;
      updateComposer();
    }
    return true;
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) notice(explain(error));
    if (error instanceof HttpError && error.status === 404) loadSessions().catch(() => {});
    return false;
  } finally {
    send.disabled = false;
  }
}

async function onCompose(event) {
  event.preventDefault();
  const box = $('prompt');
  if (await sendPrompt(box.value)) {
    box.value = '';
    autosize();
  }
}

async function onStop() {
  if (!state.sessionId) return;
  const stop = $('stop');
  stop.disabled = true;
  try {
    await api('POST', `/api/session/${encodeURIComponent(state.sessionId)}/cancel`);
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) notice(explain(error));
  } finally {
    stop.disabled = false;
  }
}

function autosize() {
  const box = $('prompt');
  box.style.height = 'auto';
  box.style.height = `${Math.max(box.scrollHeight, 44)}px`;
}

// --- Power ----------------------------------------------------------------

function verbName(verb) {
  return (S.verbs && S.verbs[verb]) || verb;
}

async function openPower() {
  const dialog = $('power-dialog');
  $('power-confirm').hidden = true;
  state.pendingVerb = null;
  if (!dialog.open) dialog.showModal();
  const box = $('power-verbs');
  if (!state.verbs) {
    box.replaceChildren(el('p', 'hint', t('powerLoading')));
    try {
      const { data } = await api('GET', '/api/pve/verbs');
      state.verbs = {
        verbs: Array.isArray(data && data.verbs) ? data.verbs.map(String) : [],
        mutating: Array.isArray(data && data.mutating) ? data.mutating.map(String) : [],
      };
    } catch (error) {
      box.replaceChildren(el('p', 'error', explain(error)));
      return;
    }
  }
  box.replaceChildren();
  if (state.verbs.verbs.length === 0) box.append(el('p', 'hint', t('powerNone')));
  // Read-only verbs first: the safe ones are the ones at hand.
  const ordered = [...state.verbs.verbs].sort((a, b) =>
    Number(state.verbs.mutating.includes(a)) - Number(state.verbs.mutating.includes(b)));
  for (const verb of ordered) {
    const mutating = state.verbs.mutating.includes(verb);
    const button = el('button', mutating ? 'danger' : '');
    button.type = 'button';
    button.dataset.verb = verb;
    button.append(el('span', '', verbName(verb)), el('small', '', verb));
    button.addEventListener('click', () => (mutating ? askVerb(verb) : runVerb(verb)));
    box.append(button);
  }
}

function askVerb(verb) {
  state.pendingVerb = verb;
  $('power-confirm-text').textContent = t('confirmTitle', verbName(verb));
  $('power-go').textContent = t('confirmGo', verbName(verb));
  $('power-confirm').hidden = false;
  $('power-confirm').scrollIntoView({ block: 'nearest' });
  $('power-go').focus();
}

async function runVerb(verb) {
  $('power-confirm').hidden = true;
  state.pendingVerb = null;
  const result = $('power-result');
  const buttons = document.querySelectorAll('#power-verbs button');
  for (const b of buttons) b.disabled = true;
  result.replaceChildren(el('p', 'status', t('runningVerb', verbName(verb))));
  try {
    const { status, data } = await api('POST', `/api/pve/${encodeURIComponent(verb)}`);
    const body = data || {};
    const ok = status === 200 && body.exit_code === 0;
    let line;
    if (ok) line = t('verbOk', verbName(verb));
    else if (body.exit_code === null || body.exit_code === undefined) line = t('verbNoExit', verbName(verb));
    else line = t('verbFailed', verbName(verb), body.exit_code);
    const nodes = [el('p', 'status ' + (ok ? 'ok' : 'bad'), line)];
    if (body.rejected) nodes.push(el('p', 'error', t('verbRejected')));
    if (body.stdout) nodes.push(el('pre', '', String(body.stdout)));
    if (body.stderr) nodes.push(el('pre', 'bad', String(body.stderr)));
    result.replaceChildren(...nodes);
  } catch (error) {
    result.replaceChildren(el('p', 'error', explain(error)));
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

// --- Start ----------------------------------------------------------------

function wire() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('session-select').addEventListener('change', (e) => {
    if (e.target.value) openSession(e.target.value);
  });
  $('new-session').addEventListener('click', () => {
    newSession().catch((error) => notice(explain(error)));
  });
  $('composer').addEventListener('submit', onCompose);
  $('prompt').addEventListener('input', autosize);
  // Enter sends (the phone keyboard's key says "send"); Shift+Enter is a new line.
  $('prompt').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) onCompose(e);
  });
  $('stop').addEventListener('click', onStop);
  $('power-open').addEventListener('click', openPower);
  $('power-close').addEventListener('click', () => $('power-dialog').close());
  $('power-cancel').addEventListener('click', () => {
    $('power-confirm').hidden = true;
    state.pendingVerb = null;
  });
  $('power-go').addEventListener('click', () => {
    if (state.pendingVerb) runVerb(state.pendingVerb);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      state.hiddenSince = Date.now();
    } else if (!state.source || $('conn').dataset.state !== 'live' ||
               Date.now() - state.hiddenSince > STALE_AFTER_HIDDEN_MS) {
      recheck();
    }
  });
  // A frozen page (a phone's background tab) is resumed rather than shown.
  document.addEventListener('resume', recheck);
  window.addEventListener('online', recheck);
  window.addEventListener('offline', () => setConnection('offline'));
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) recheck();
  });
}

async function start() {
  applyStrings();
  wire();
  setConnection('idle');
  if (localStorage.getItem(LOGGED_IN_KEY) !== '1') {
    showLogin('');
    return;
  }
  try {
    await showConsole();
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) return;
    // The service is away: keep the console, and keep trying.
    notice(t('network'));
    setConnection('offline');
    retryStart(BACKOFF_MIN_MS);
  }
}

function retryStart(delay) {
  setTimeout(() => {
    showConsole().then(() => notice(''), (error) => {
      if (!(error instanceof HttpError && error.status === 401)) {
        retryStart(Math.min(delay * 2, BACKOFF_MAX_MS));
      }
    });
  }, delay);
}

document.addEventListener('DOMContentLoaded', start);
