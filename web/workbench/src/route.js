// The workbench's routes live in the URL's fragment (#/inbox,
// #/cases/{number}, …): App reads them, pages move with go. A module of its
// own, so that pages need not import App, which imports them.
import { useEffect, useState } from 'react';

/** The page the URL's fragment names: #/inbox, #/cases/{number}, … */
export function useRoute() {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return parts;
}

export function go(path) {
  window.location.hash = '#/' + path;
}

