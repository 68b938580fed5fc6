import { createContext, useContext } from 'react';

/** The county's offices: { offices, name(id), ofKind(kind) }. */
export const DirectoryContext = createContext({ offices: [], name: (x) => x, ofKind: () => [] });

export const useDirectory = () => useContext(DirectoryContext);
