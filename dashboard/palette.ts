/**
 * Okabe and Ito's palette, told apart by the common kinds of colour blindness; every series and
 * state also differs by dash, shape or text, so colour is never the only cue.
 */
export const PALETTE = {
  blue: "#0072B2",
  skyBlue: "#56B4E9",
  green: "#009E73",
  vermillion: "#D55E00",
  orange: "#E69F00",
  purple: "#CC79A7",
  yellow: "#F0E442",
  grey: "#8c8c8c",
} as const;
