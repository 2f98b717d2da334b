import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import{u as b}from"./chunk-WZ5X7PYP.js";import"./chunk-UHKMLIV4.js";import{q as a}from"./chunk-RMNI72SN.js";export{a as STATE,b as cleanup};
