//! Every refusal of v2 (docs/api.md §17), each with the proof that nothing
//! changed: the image read back equal, the lists unchanged, no object and
//! no staging left in the store.
