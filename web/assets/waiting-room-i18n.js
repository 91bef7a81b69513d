// Korean and English strings of the waiting room. `t(key, values)` fills
// `{name}` placeholders; `errorText` turns a server error code into a sentence.

const STRINGS = {
  en: {
    title: 'Waiting room',
    skip: 'Skip to content',
    subtitle: 'Join the line, wait for your turn, then pick your seats.',
    switchLang: '한국어',
    switchLangLabel: 'Switch to Korean',
    joinHeading: 'Join the line',
    concert: 'Concert',
    concertLoading: 'Loading concerts…',
    concertNone: 'No concerts on sale right now.',
    user: 'Your member number or UUID',
    userHint: 'A number from 1 to 1000 for the demo, or your account UUID.',
    join: 'Join the line',
    joining: 'Joining…',
    challengeChecking: 'Checking your browser before you join. This takes a few seconds; keep this page open.',
    leave: 'Start over',
    statusHeading: 'Your place',
    waiting: 'Waiting',
    position: 'You are number {n} in line.',
    positionShort: 'No. {n}',
    ahead: '{n} people ahead of you',
    aheadOne: '1 person ahead of you',
    aheadNone: 'You are next',
    eta: 'Estimated wait: {t}',
    etaUnknown: 'Estimated wait: working it out…',
    progress: 'Progress through the line',
    keepOpen: 'Keep this page open. Your place is kept while this page is checking in; there is no need to refresh.',
    nextCheck: 'Next update in {s} s',
    checking: 'Updating…',
    preQueue: 'The line opens at {at}.',
    preQueueLive: 'The line has not opened yet. It opens in {t}.',
    preQueueNote: 'Everyone who arrives before the opening gets a place drawn by lot, so there is no need to hurry or refresh.',
    opensIn: 'Opens in',
    admitted: "It's your turn! You can book now.",
    admittedNote: 'Your booking window closes in {t}.',
    admittedNoteNoTime: 'Your booking window is limited: please book now.',
    windowOver: 'Your booking window has ended.',
    expired: 'Your place in line has expired.',
    expiredNote: 'You can join again; you will go to the back of the line.',
    joinAgain: 'Join again',
    closed: 'This line is closed: no new places are being given out.',
    hiddenNotice: 'Updates are paused while this page is in the background. A place is kept for {idle} without updates: come back in time or you will lose your place.',
    hiddenDeadline: 'Come back by {at} (in {left}).',
    welcomeBack: 'Welcome back: updating your place…',
    hiddenTitle: 'Come back to keep your place',
    busy: 'The service is busy. Your place is kept; trying again shortly.',
    offline: 'Connection problem. Your place is kept; trying again shortly.',
    retryIn: 'Next try in {s} s.',
    minutes: '{n} min',
    minutesSeconds: '{m} min {s} s',
    seconds: '{n} s',
    hours: '{h} h {m} min',
    days: '{d} d {h} h',
    bookingHeading: 'Book your seats',
    date: 'Date',
    seatsLeft: '{n} seats left',
    soldOut: 'Sold out',
    seatMap: 'Seats',
    stage: 'Stage',
    refreshSeats: 'Refresh seats',
    legendFree: 'Available',
    legendTaken: 'Sold or held',
    legendSelected: 'Selected',
    legendMine: 'Held by you',
    seatLabel: 'Seat {n}, {price}',
    seatFree: 'available',
    seatTaken: 'sold',
    seatMine: 'held by you',
    selectHint: 'Select up to {n} seats, then hold them.',
    hold: 'Hold {n} seat(s)',
    holdNone: 'Hold seats',
    holding: 'Holding…',
    held: 'Your seats',
    heldNone: 'No seats held yet.',
    holdCountdown: 'Held for you for {t}. Pay before then.',
    holdLapsed: 'Your hold has lapsed; select seats again.',
    total: 'Total',
    balanceHeading: 'Balance',
    balance: 'Your balance',
    topUpAmount: 'Top-up amount (won)',
    topUp: 'Top up',
    toppingUp: 'Topping up…',
    toppedUp: 'Balance topped up to {amount}.',
    shortfall: 'You need {amount} more to pay.',
    pay: 'Pay {amount}',
    payNone: 'Pay',
    paying: 'Paying…',
    receiptHeading: 'Receipt',
    receiptThanks: 'Payment complete. Enjoy the show!',
    paymentDate: 'Paid at',
    paymentAmount: 'Amount',
    paymentStatus: 'Status',
    paymentIds: 'Payment no.',
    balanceAfter: 'Balance after',
    seatNo: 'Seat {n}',
    won: '{n} won',
    member: 'Member {n}',
    invalidUser: 'Enter a member number (1 or more) or a UUID.',
    heldOk: 'Seat {n} is held for you.',
    loadFailed: 'Could not load: {msg}',
  },
  ko: {
    title: '대기실',
    skip: '본문으로 건너뛰기',
    subtitle: '대기열에 들어가 차례를 기다린 뒤 좌석을 고르세요.',
    switchLang: 'English',
    switchLangLabel: '영어로 보기',
    joinHeading: '대기열 입장',
    concert: '공연',
    concertLoading: '공연 목록을 불러오는 중…',
    concertNone: '지금 판매 중인 공연이 없습니다.',
    user: '회원 번호 또는 UUID',
    userHint: '데모에서는 1부터 1000까지의 번호, 또는 계정 UUID를 입력하세요.',
    join: '대기열 입장',
    joining: '입장 중…',
    challengeChecking: '입장 전에 브라우저를 확인하고 있습니다. 몇 초 걸리니 이 페이지를 열어 두세요.',
    leave: '처음으로',
    statusHeading: '나의 순서',
    waiting: '대기 중',
    position: '현재 대기 순번은 {n}번입니다.',
    positionShort: '{n}번',
    ahead: '앞에 {n}명이 있습니다',
    aheadOne: '앞에 1명이 있습니다',
    aheadNone: '곧 내 차례입니다',
    eta: '예상 대기 시간: {t}',
    etaUnknown: '예상 대기 시간: 계산 중…',
    progress: '대기 진행률',
    keepOpen: '이 페이지를 열어 두세요. 페이지가 확인하는 동안 순서가 유지되며, 새로고침할 필요가 없습니다.',
    nextCheck: '{s}초 후 갱신',
    checking: '갱신 중…',
    preQueue: '대기열은 {at}에 열립니다.',
    preQueueLive: '아직 대기열이 열리지 않았습니다. {t} 후에 열립니다.',
    preQueueNote: '오픈 전에 도착한 모든 분의 순서는 추첨으로 정해지므로 서두르거나 새로고침하지 않아도 됩니다.',
    opensIn: '오픈까지',
    admitted: '입장 차례입니다! 지금 예매할 수 있습니다.',
    admittedNote: '예매 가능 시간이 {t} 남았습니다.',
    admittedNoteNoTime: '예매 가능 시간이 제한되어 있으니 지금 예매하세요.',
    windowOver: '예매 가능 시간이 끝났습니다.',
    expired: '대기 순서가 만료되었습니다.',
    expiredNote: '다시 입장할 수 있으며, 대기열 맨 뒤로 가게 됩니다.',
    joinAgain: '다시 입장',
    closed: '대기열이 마감되어 새로 입장할 수 없습니다.',
    hiddenNotice: '페이지가 백그라운드에 있어 갱신을 멈췄습니다. 갱신 없이는 {idle} 동안만 순서가 유지되니, 그 안에 돌아오지 않으면 순서를 잃습니다.',
    hiddenDeadline: '{at}까지 돌아오세요({left} 남음).',
    welcomeBack: '돌아오셨네요. 순서를 갱신하는 중…',
    hiddenTitle: '순서를 지키려면 돌아오세요',
    busy: '접속이 많습니다. 순서는 유지되며, 잠시 후 다시 시도합니다.',
    offline: '연결에 문제가 있습니다. 순서는 유지되며, 잠시 후 다시 시도합니다.',
    retryIn: '{s}초 후 다시 시도합니다.',
    minutes: '{n}분',
    minutesSeconds: '{m}분 {s}초',
    seconds: '{n}초',
    hours: '{h}시간 {m}분',
    days: '{d}일 {h}시간',
    bookingHeading: '좌석 예매',
    date: '공연 일시',
    seatsLeft: '잔여 {n}석',
    soldOut: '매진',
    seatMap: '좌석',
    stage: '무대',
    refreshSeats: '좌석 새로고침',
    legendFree: '선택 가능',
    legendTaken: '판매됨/선점됨',
    legendSelected: '선택함',
    legendMine: '내가 선점',
    seatLabel: '{n}번 좌석, {price}',
    seatFree: '선택 가능',
    seatTaken: '판매됨',
    seatMine: '내가 선점함',
    selectHint: '최대 {n}석까지 선택한 뒤 선점하세요.',
    hold: '{n}석 선점하기',
    holdNone: '좌석 선점',
    holding: '선점 중…',
    held: '선점한 좌석',
    heldNone: '아직 선점한 좌석이 없습니다.',
    holdCountdown: '{t} 동안 선점됩니다. 그 전에 결제하세요.',
    holdLapsed: '선점 시간이 지났습니다. 좌석을 다시 선택하세요.',
    total: '합계',
    balanceHeading: '잔액',
    balance: '현재 잔액',
    topUpAmount: '충전 금액(원)',
    topUp: '충전',
    toppingUp: '충전 중…',
    toppedUp: '잔액이 {amount}(으)로 충전되었습니다.',
    shortfall: '결제하려면 {amount}이(가) 더 필요합니다.',
    pay: '{amount} 결제',
    payNone: '결제',
    paying: '결제 중…',
    receiptHeading: '영수증',
    receiptThanks: '결제가 완료되었습니다. 즐거운 공연 되세요!',
    paymentDate: '결제 일시',
    paymentAmount: '결제 금액',
    paymentStatus: '상태',
    paymentIds: '결제 번호',
    balanceAfter: '결제 후 잔액',
    seatNo: '{n}번 좌석',
    won: '{n}원',
    member: '회원 {n}',
    invalidUser: '회원 번호(1 이상) 또는 UUID를 입력하세요.',
    heldOk: '{n}번 좌석을 선점했습니다.',
    loadFailed: '불러오지 못했습니다: {msg}',
  },
};

// Messages for the error codes a fan can meet; anything else shows the
// server's own message, which is better than a vague "something went wrong".
const ERRORS = {
  en: {
    QUEUE_CLOSED: 'This line is closed: no new places are being given out.',
    USER_NOT_FOUND: 'No member with that number or UUID.',
    INVALID_UUID: 'That is not a valid UUID.',
    CONCERT_NOT_FOUND: 'That concert does not exist.',
    TOKEN_NOT_FOUND: 'Your place in line was not found; please join again.',
    TOKEN_EXPIRED: 'Your booking window has ended; please join again.',
    TOKEN_INVALID: 'Your queue ticket is not valid; please join again.',
    TOKEN_MISMATCH: 'Your queue ticket belongs to another concert or member.',
    NOT_ADMITTED: 'It is not your turn yet.',
    SEAT_UNAVAILABLE: 'Sorry, that seat was just taken. Please pick another.',
    TOO_MANY_SEATS: 'You can hold at most {limit} seats.',
    NO_HOLD: 'You have no seats held. Hold seats first.',
    HOLD_EXPIRED: 'Your hold has lapsed. Please hold your seats again.',
    INSUFFICIENT_BALANCE: 'Not enough balance: you have {balance}, the seats cost {required}.',
    BALANCE_LIMIT_EXCEEDED: 'That top-up would take your balance over the limit.',
    INVALID_AMOUNT: 'Enter a whole amount in won, 1 or more.',
    RATE_LIMITED: 'Too many requests. Please wait a moment.',
    OVERLOADED: 'The service is busy. Please wait a moment.',
    DEPENDENCY_UNAVAILABLE: 'The service is briefly unavailable; nothing was changed.',
    OUTCOME_UNKNOWN: 'We could not confirm the result yet; retrying safely.',
    TIMEOUT: 'The request took too long. Please try again.',
    NETWORK: 'Could not reach the service. Check your connection.',
    CHALLENGE_REQUIRED: 'Your browser could not be checked. Please try again.',
    CHALLENGE_FAILED: 'Your browser could not be checked. Please try again.',
    UNSOLVED: 'The browser check could not finish. Please try again.',
  },
  ko: {
    QUEUE_CLOSED: '대기열이 마감되어 새로 입장할 수 없습니다.',
    USER_NOT_FOUND: '해당 번호나 UUID의 회원이 없습니다.',
    INVALID_UUID: '올바른 UUID가 아닙니다.',
    CONCERT_NOT_FOUND: '존재하지 않는 공연입니다.',
    TOKEN_NOT_FOUND: '대기 순서를 찾을 수 없습니다. 다시 입장해 주세요.',
    TOKEN_EXPIRED: '예매 가능 시간이 끝났습니다. 다시 입장해 주세요.',
    TOKEN_INVALID: '대기표가 올바르지 않습니다. 다시 입장해 주세요.',
    TOKEN_MISMATCH: '다른 공연이나 다른 회원의 대기표입니다.',
    NOT_ADMITTED: '아직 입장 차례가 아닙니다.',
    SEAT_UNAVAILABLE: '방금 다른 분이 선택한 좌석입니다. 다른 좌석을 골라 주세요.',
    TOO_MANY_SEATS: '최대 {limit}석까지 선점할 수 있습니다.',
    NO_HOLD: '선점한 좌석이 없습니다. 먼저 좌석을 선점하세요.',
    HOLD_EXPIRED: '선점 시간이 지났습니다. 좌석을 다시 선점해 주세요.',
    INSUFFICIENT_BALANCE: '잔액이 부족합니다: 잔액 {balance}, 결제 금액 {required}.',
    BALANCE_LIMIT_EXCEEDED: '충전 한도를 넘습니다.',
    INVALID_AMOUNT: '1원 이상의 정수 금액을 입력하세요.',
    RATE_LIMITED: '요청이 너무 많습니다. 잠시 기다려 주세요.',
    OVERLOADED: '접속이 많습니다. 잠시 기다려 주세요.',
    DEPENDENCY_UNAVAILABLE: '서비스가 잠시 응답하지 않습니다. 아무것도 변경되지 않았습니다.',
    OUTCOME_UNKNOWN: '결과를 아직 확인하지 못했습니다. 안전하게 다시 시도합니다.',
    TIMEOUT: '요청 시간이 초과되었습니다. 다시 시도해 주세요.',
    NETWORK: '서비스에 연결할 수 없습니다. 인터넷 연결을 확인하세요.',
    CHALLENGE_REQUIRED: '브라우저를 확인하지 못했습니다. 다시 시도해 주세요.',
    CHALLENGE_FAILED: '브라우저를 확인하지 못했습니다. 다시 시도해 주세요.',
    UNSOLVED: '브라우저 확인을 마치지 못했습니다. 다시 시도해 주세요.',
  },
};

export const LANGS = ['ko', 'en'];

export function pickLang(preferred) {
  const stored = safeStorage(() => localStorage.getItem('waiting-room.lang'));
  const wanted = preferred || stored || navigator.language || 'en';
  return wanted.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function rememberLang(lang) {
  safeStorage(() => localStorage.setItem('waiting-room.lang', lang));
}

let current = 'en';
export const setLang = (lang) => { current = lang; };
export const lang = () => current;

export function t(key, values = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return fill(text, values);
}

export function won(amount) {
  const n = new Intl.NumberFormat(current === 'ko' ? 'ko-KR' : 'en-US').format(amount);
  return t('won', { n });
}

/** A short human duration: "4 min 10 s", "2시간 5분". */
export function duration(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  if (s < 60) return t('seconds', { n: s });
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return s % 60 && m < 10 ? t('minutesSeconds', { m, s: s % 60 }) : t('minutes', { n: Math.round(s / 60) });
  }
  if (s < 86400) return t('hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t('days', { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

/** A countdown clock: 4:05, 1:02:03. */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function errorText(error) {
  const template = ERRORS[current][error.code] ?? ERRORS.en[error.code];
  if (!template) return error.message || error.code || 'Error';
  const body = error.body || {};
  return fill(template, {
    limit: body.limit ?? '',
    balance: body.balance != null ? won(body.balance) : '',
    required: body.required != null ? won(body.required) : '',
  });
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function safeStorage(fn) {
  try {
    return fn();
  } catch {
    return null; // storage disabled (private mode, sandboxed iframe): not worth failing over
  }
}
