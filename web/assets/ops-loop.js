// The page's polling: each read on a timer of its own, one at a time, and
// none while the tab is hidden, so a forgotten tab costs the server nothing.

// Each loop schedules its next run only after the previous one finished: no pile-up on a slow server.
export function loop(fn, every) {
  let timer = null;
  const run = async () => {
    timer = null;
    if (document.hidden) return;
    await fn();
    if (!document.hidden && timer === null) timer = setTimeout(run, every);
  };
  return {
    start() {
      if (timer === null) run();
    },
    stop() {
      clearTimeout(timer);
      timer = null;
    },
  };
}

// Starts `loops`, stops them while the tab is hidden (`onHidden` tells the
// reader) and starts them again when it is shown.
export function whileVisible(loops, onHidden) {
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      loops.forEach((l) => l.stop());
      onHidden();
    } else {
      loops.forEach((l) => l.start());
    }
  });
  if (document.hidden) onHidden();
  loops.forEach((l) => l.start());
}
