// Imported once at warm-up so the ESM loader's first-import costs are paid before a
// stem cell counts as ready.
export const warm = true;
