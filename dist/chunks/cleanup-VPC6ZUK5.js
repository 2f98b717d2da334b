import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import{t as b}from"./chunk-UMVJCR2N.js";import"./chunk-5VQMBJ4B.js";import{q as a}from"./chunk-RMNI72SN.js";export{a as STATE,b as cleanup};
