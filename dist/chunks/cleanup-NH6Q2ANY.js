import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import{v as b}from"./chunk-M7ZTAZBI.js";import"./chunk-WDKCXWQ4.js";import{q as a}from"./chunk-RMNI72SN.js";export{a as STATE,b as cleanup};
